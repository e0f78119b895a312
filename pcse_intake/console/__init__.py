"""The staff web console: server-rendered pages where caseworkers verify and approve requests."""
