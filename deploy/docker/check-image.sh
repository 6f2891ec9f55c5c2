#!/bin/sh
# A built image's smoke check (`make image` runs it): user 10001, no compiler or Node, every model
# in the image matches the SHA-256 in its manifest, and the entry point answers.
#   deploy/docker/check-image.sh vigil:dev
set -eu
image=$1
${DOCKER:-docker} run --rm --entrypoint sh "$image" -c '
set -e
test "$(id -u):$(id -g)" = 10001:10001 || { echo "runs as $(id -u):$(id -g), not 10001"; exit 1; }
for tool in gcc cc g++ c++ make ld node npm; do
    if command -v "$tool" >/dev/null; then echo "build tool in the final stage: $tool"; exit 1; fi
done
python -c "
from vigil.models.cache import verified_path
from vigil.models.catalog import MODELS
for name in MODELS:
    verified_path(name)
print(len(MODELS), \"models match the manifest\")
"
vigil serve --help >/dev/null
echo "uid 10001, no build tools, vigil serve answers"
'
