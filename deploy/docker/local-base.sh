#!/bin/bash
# Base images for deploy/docker/Dockerfile where no image registry can be reached, built from the
# Debian packages this machine already gets: a bookworm rootfs from the mirror in its apt sources,
# with Python 3.11 (vigil-base/python) and with this machine's Node.js where the official node
# image keeps it (vigil-base/node). The machine's extra CA certificates and apt Acquire settings
# go in too, so apt, pip and npm inside the build reach what they reach here.
#
#   sudo deploy/docker/local-base.sh            # needs debootstrap, docker, node and npm
#   DOCKER_BUILDKIT=1 docker build --network host -f deploy/docker/Dockerfile \
#     --build-arg PYTHON_IMAGE=vigil-base/python:3.11-bookworm \
#     --build-arg NODE_IMAGE=vigil-base/node:20-bookworm -t vigil:dev .
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
mirror=${MIRROR:-$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '$1 == "URIs:" && $2 ~ /\/debian\/?$/ {print $2; exit}')}
mirror=${mirror:-$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list)}
debootstrap --variant=minbase --include=ca-certificates,python3,python3-venv bookworm "$rootfs" \
    "$mirror"
for conf in /etc/apt/apt.conf.d/*; do
    if grep -q '^Acquire::' "$conf"; then cp "$conf" "$rootfs/etc/apt/apt.conf.d/"; fi
done
cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null \
    || true
chroot "$rootfs" update-ca-certificates
# pip's own CA bundle lacks the machine's extra certificates; npm reads NODE_EXTRA_CA_CERTS.
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$rootfs/etc/pip.conf"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb
ca='ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'
tar -C "$rootfs" -c . | docker import --change "$ca" --change 'CMD ["python3"]' - \
    vigil-base/python:3.11-bookworm
mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/node_modules"
cp "$(readlink -f "$(command -v node)")" "$rootfs/usr/local/bin/node"
cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
tar -C "$rootfs" -c . | docker import --change "$ca" --change 'CMD ["node"]' - \
    vigil-base/node:20-bookworm
