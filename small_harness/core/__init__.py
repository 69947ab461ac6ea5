"""What every part of the harness shares: errors reported in one line, the repository's paths, files written
whole or not at all, JUnit files, the programs it runs (tools.toml), archives and tarballs."""
