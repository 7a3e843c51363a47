"""The JSON Schema of the spec format, shipped inside the package as `specc.schemas`."""
