"""One module per admin page (or group of pages), each with its own router."""
