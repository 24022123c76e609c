#!/usr/bin/env bash
# Screenshot built book pages with headless Chromium (Debian package `chromium`), and dump each
# page's DOM after its scripts ran, to check that math and widgets rendered without a kernel.
# Usage: bash book/screenshot.sh [PAGE ...]    PAGE relative to book/_build/html (default: all
# top-level pages and notebook pages). Name resolution is switched off, so a page that renders
# here needs nothing from the internet. Output: book/_build/screenshots/NAME.png and NAME.dom.html.
# Environment: WIDTH (1200), HEIGHT (1600), CHROMIUM (chromium).
set -euo pipefail
cd "$(dirname "$0")"
html=_build/html
out=_build/screenshots
[[ -f $html/intro.html ]] || { echo "no built book: run 'make book' first" >&2; exit 1; }
mkdir -p "$out"
pages=("$@")
if [[ ${#pages[@]} -eq 0 ]]; then
  mapfile -t pages < <(cd "$html" && ls intro.html references.html notebooks/*.html 2>/dev/null)
fi
chromium=${CHROMIUM:-chromium}
flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --hide-scrollbars
       --host-resolver-rules='MAP * ~NOTFOUND'
       --virtual-time-budget=15000 --window-size="${WIDTH:-1200},${HEIGHT:-1600}")
for page in "${pages[@]}"; do
  name=$(basename "${page%.html}")
  url="file://$PWD/$html/$page"
  profile=$(mktemp -d)
  "$chromium" "${flags[@]}" --user-data-dir="$profile" --screenshot="$out/$name.png" "$url" 2>/dev/null
  "$chromium" "${flags[@]}" --user-data-dir="$profile" --dump-dom "$url" > "$out/$name.dom.html" 2>/dev/null
  rm -rf "$profile"
  math=$( (grep -o '<mjx-container' "$out/$name.dom.html" || true) | wc -l)
  widgets=$( (grep -o 'class="[^"]*widget-[a-z]*' "$out/$name.dom.html" || true) | wc -l)
  echo "$out/$name.png  mathjax-rendered=$math widget-elements=$widgets"
done
