"""The console's web kit: JSON bodies and query parameters that name what they refuse, the
API's errors and responses, presenters, typed app keys, staff pages with their CSP, spreadsheet
responses and the OpenAPI registry every feature adds its paths to."""
