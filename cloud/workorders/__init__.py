"""Work orders: device events, owners' requests and plans become dispatched tasks with SLA
clocks (issue 6). The lifecycle is data (``states``); ``service`` applies it."""
