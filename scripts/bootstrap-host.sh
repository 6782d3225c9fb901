#!/usr/bin/env bash
# Prepare the controller (a fresh Debian machine, as root) for stackyard:
# the OS packages the Makefile needs, and a running Docker engine.
# Idempotent: a second run only checks and returns within a second or two.
#
# STACKYARD_DEPLOY_ONLY=1: only what deploying to an inventory of hosts needs (no Docker
# engine, no test tools), e.g. on a host that deploys to itself with inventories/local.
set -euo pipefail

# OS packages the controller needs, one per line (environments add theirs here).
DEPLOY_PACKAGES=(
  python3-venv # the controller's virtualenv
  git
  make
  openssl
)
# make up, make test, and building the artifact cache from registries (make artifacts); a
# deploy-only controller fills that cache from vendor downloads or prepared directories.
TEST_PACKAGES=(
  openjdk-17-jdk-headless # artifact cache: Kafka from Maven Central (and Kafka's runtime)
  maven                   # artifact cache: Kafka's class path from Maven Central
  golang-go               # artifact cache: bootstraps the pinned Go toolchain from the module proxy
  curl                    # artifact cache: TimescaleDB source when no local copy exists
  docker.io   # the container engine behind molecule and the containers inventory
  debootstrap # builds the base image when no registry is reachable
  postgresql  # server binaries for the Python integration tests (no cluster is created)
  vagrant     # tests/targets: vagrant up --provider=docker (Debian's, without recommends)
  redis-server   # vowel: throwaway Redis servers for the Python integration tests
  mariadb-server # vowel: throwaway MariaDB servers for the Python integration tests
  chromium       # vowel: the headless browser that checks the dashboard page
  default-jre-headless # Java for the throwaway Kafka broker of the Python integration tests
  apache2-utils # ab, for the seed's load line (capture scenario)
  nginx-light   # bench/capture_bench.py: the http_front role's front before the local apps
  graphviz      # dot: make diagrams renders docs/images/*.dot
)
if [[ ${STACKYARD_DEPLOY_ONLY:-0} == 1 ]]; then
  readonly PACKAGES=("${DEPLOY_PACKAGES[@]}")
else
  readonly PACKAGES=("${DEPLOY_PACKAGES[@]}" "${TEST_PACKAGES[@]}")
fi

log() { printf '[bootstrap] %s\n' "$*"; }

missing_packages() {
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} == 0)); then
    log "OS packages present"
    return
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: missing packages ${missing[*]} and not root; install them or run as root" >&2
    exit 1
  fi
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

docker_ready() { docker info >/dev/null 2>&1; }

start_docker() {
  if docker_ready; then
    log "Docker engine running"
    return
  fi
  # Prefer the init system when there is one; a bare container or CI sandbox has none.
  if [[ -d /run/systemd/system ]] && systemctl start docker 2>/dev/null; then
    :
  else
    log "starting dockerd in the background (log: /var/log/stackyard-dockerd.log)"
    nohup dockerd >/var/log/stackyard-dockerd.log 2>&1 &
  fi
  local _
  for _ in $(seq 1 60); do
    docker_ready && { log "Docker engine running"; return; }
    sleep 1
  done
  echo "bootstrap: dockerd did not come up in 60 s; see /var/log/stackyard-dockerd.log" >&2
  exit 1
}

install_packages
if [[ ${STACKYARD_DEPLOY_ONLY:-0} == 1 ]]; then
  log "deploy only: no Docker engine"
else
  start_docker
fi
