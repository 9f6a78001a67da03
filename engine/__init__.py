"""The built-in assistant engine. `engine.formats` is its pure-Python Rasa file-format layer."""
