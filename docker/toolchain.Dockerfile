# One toolchain image per target, parametrised by the harness (small_harness/toolchain/docker/images.py) from
# the target's [docker.packages] in toolchains/<target>.toml. The image is tagged by a hash of this
# file, the base image and the build arguments, so it is rebuilt only when one of them changes.
#
# BASE_IMAGE: debian:trixie-slim from a registry, or small-base:trixie made offline by
#             `invoke toolchain.bootstrap` (debootstrap + docker import).
# PACKAGES:   the target's compiler, sysroot and QEMU packages.
# CC, QEMU:   the programs whose versions are recorded in /etc/small-toolchain-versions.
#
# One RUN, so one layer: with the vfs storage driver every layer is a full copy of the tree below
# it. No recommended packages, no documentation, manuals or translations, no apt lists.
ARG BASE_IMAGE=debian:trixie-slim
FROM ${BASE_IMAGE}
ARG PACKAGES
ARG CC
ARG QEMU=""
RUN printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
      > /etc/dpkg/dpkg.cfg.d/small-no-docs \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends cmake ninja-build ${PACKAGES} \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && { ${CC} --version | head -n 1; if [ -n "${QEMU}" ]; then ${QEMU} --version | head -n 1; fi; } \
    > /etc/small-toolchain-versions && cat /etc/small-toolchain-versions
