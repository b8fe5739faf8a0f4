"""The jobs feature's console side: the job kinds (which call billing, payments and
retention), the schedules API and the ``/schedules`` page. A layer above the features it
runs; the claiming, duties and schedule slots below it are the kit every feature may use."""
