"""YAML with positions: every problem of a file reported at FILE:LINE:COL at once, shared by
the edge's site loader and the console's rule, plan, tariff and policy loaders."""
