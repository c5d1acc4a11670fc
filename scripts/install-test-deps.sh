#!/usr/bin/env bash
# Installs the Debian packages the tests need. Packages are listed one per line
# in scripts/test-packages.txt and every REQUIRED_PACKAGES file in the tree; apt-get runs only when
# one of them is missing, so repeated runs cost nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "install-test-deps: Go is required (https://go.dev/dl/); the module needs Go $(sed -n 's/^go //p' go.mod)" >&2
  exit 1
fi
mapfile -t pkgs < <(cat scripts/test-packages.txt $(find . -name REQUIRED_PACKAGES -not -path './.git/*' | sort) | sed 's/#.*//' | awk 'NF {print $1}' | sort -u)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-test-deps: missing packages (run as root to install): ${missing[*]}" >&2
  exit 1
fi
echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
