"""The admin web UI under /admin: server-rendered pages over the same operations as the API."""
