# One toolchain image per target, parametrised by the harness (small_harness/docker_images.py) from
# the target's [docker.packages] in toolchains/<target>.toml. The image is tagged by a hash of this
# file, the base image and the build arguments, so it is rebuilt only when one of them changes.
#
# BASE_IMAGE: debian:trixie-slim from a registry, or small-base:trixie made offline by
#             `invoke toolchain.bootstrap` (debootstrap + docker import).
# PACKAGES:   the target's compiler, sysroot and QEMU packages.
# CC, QEMU:   the programs whose versions are recorded in /etc/small-toolchain-versions.
ARG BASE_IMAGE=debian:trixie-slim
FROM ${BASE_IMAGE}
ARG PACKAGES
ARG CC
ARG QEMU=""
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends cmake ninja-build ${PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
RUN { ${CC} --version | head -n 1; if [ -n "${QEMU}" ]; then ${QEMU} --version | head -n 1; fi; } \
    > /etc/small-toolchain-versions && cat /etc/small-toolchain-versions
