"""The lab's own data and models: checking a folder, and (later) fit, predict, export."""
