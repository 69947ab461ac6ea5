"""Models: .tflite import (and a minimal writer for tests), the library's model file format, the cache of
imported models, LiteRT as the reference, and invoke run."""
