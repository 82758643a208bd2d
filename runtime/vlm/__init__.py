"""vlm capability."""
