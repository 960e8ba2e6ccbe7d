#!/usr/bin/env bash
# The chest-x-ray example end to end, against a running `lakecache up` (see README.md):
# generate the images, sync them into a dataset, cache the commit at a site, train on the cached
# copy as a tracked run, and show the lineage from the commit to the run.
#
# Settings (environment): LAKECACHE_API_URL and LAKECACHE_TOKEN as for every command (default: the
# gateway of `lakecache up` and the administrator token in .lakecache/admin-token); PROJECT
# (radiology), DATASET (chest-xray-mini), SITE (local), VOLUME (nfs1), WORK (where the images,
# the volume and the result go: ./.chest-xray-mini), COUNT (2400), SIZE (32), STEPS (60),
# PYTHON (python3). Running it again reuses the dataset, the commit, the volume and the copy.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT="${PROJECT:-radiology}" DATASET="${DATASET:-chest-xray-mini}" SITE="${SITE:-local}" VOLUME="${VOLUME:-nfs1}"
WORK="${WORK:-$PWD/.chest-xray-mini}" COUNT="${COUNT:-2400}" SIZE="${SIZE:-32}" STEPS="${STEPS:-60}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$WORK/volume"
WORK="$(cd "$WORK" && pwd)"
target="$PROJECT/$DATASET"
step() { printf '\n== %s\n' "$*" >&2; }

step "1. generate $COUNT synthetic images into $WORK/images"
rm -rf "$WORK/images"
"$PYTHON" "$here/generate.py" "$WORK/images" --count "$COUNT" --size "$SIZE"

step "2. sync them into the dataset $target"
lakecache data show "$target" >/dev/null 2>&1 \
    || lakecache data create "$target" --description "synthetic chest x-rays: normal/pneumonia, 32x32 grayscale"
lakecache data sync "$target" "$WORK/images" -m "synthetic chest x-rays, $COUNT images, seed 7"
lakecache data tag "$target@latest" v1 --force

step "3. register the volume $VOLUME at site $SITE and cache $target@v1 there"
# Watermarks at the top: the volume's usage is that of the whole disk it shares (a laptop's, say),
# and only its fullness, not this example's few MB, should make the evictor act.
lakecache site volumes "$SITE" "$VOLUME" >/dev/null 2>&1 \
    || lakecache site add "$SITE" --volume "$VOLUME" --path "$WORK/volume" --ttl 1d \
        --high-watermark 1.0 --low-watermark 0.99
lakecache cache request "$target@v1" --site "$SITE" --volume "$VOLUME"   # waits until the copy is ready

step "4. train on the cached copy, tracked as a run"
"$PYTHON" "$here/train.py" "$target@v1" --site "$SITE" --steps "$STEPS" --result "$WORK/result.json"
run_id="$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["run_id"])' "$WORK/result.json")"
lakecache runs show "$run_id" --project "$PROJECT"

step "5. lineage: the commit and the runs that read it"
lakecache lineage "$target@v1" --depth 2
