"""Request and response bodies of the HTTP API (msgspec Structs at the edge)."""
