"""What a target is: toolchains/<name>.toml read strictly into frozen dataclasses, the targets and their
variants, the known machines and boards, and the scaffolding of a new port (new-arch, new-isa)."""
