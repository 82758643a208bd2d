"""ocr capability."""
