"""Staff pages and their scripts and style sheets: plain files the console serves itself."""
