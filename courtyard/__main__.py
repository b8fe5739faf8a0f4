from courtyard.cli import main

raise SystemExit(main())
