"""Native speed (invoke bench): layers against the FMA peak and LiteRT, whole models, thread scaling, another
revision side by side, charts, and LiteRT as on a CPU with AVX2 alone."""
