"""Model engines behind one Protocol per capability, the model manifest, store and manager."""
