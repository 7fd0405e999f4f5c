#!/usr/bin/env bash
# The lab: privileged systemd containers on a dual-stack podman network, so that roles and
# modules run for real against nodes that have an IPv4 and an IPv6 address of their own.
#
#   lab.sh deps                     install podman, runc, debootstrap, iproute2 where missing
#   lab.sh image [--rebuild]        build the node image (reused when it exists)
#   lab.sh network                  create the dual-stack network (reused when it exists)
#   lab.sh prepare                  deps + image + network (what Molecule scenarios need)
#   lab.sh up [-n N] [-p PREFIX] [-f FIRST] [-i INVENTORY]
#                                   N nodes PREFIX-1..N at host number FIRST.. of both subnets
#   lab.sh inventory [-p PREFIX] [-i INVENTORY]   write the inventory of running nodes
#   lab.sh down [-p PREFIX]         remove that prefix's nodes
#   lab.sh destroy [--image]        remove every lab node, the network and optionally the image
#   lab.sh status
#
# Settings come from the environment, so that CI and users can move the lab off subnets
# their own networks use.
set -euo pipefail

LAB_IMAGE=${DUALSTACK_LAB_IMAGE:-localhost/dualstack-lab-node:bookworm}
LAB_NETWORK=${DUALSTACK_LAB_NETWORK:-dualstack-lab}
LAB_SUBNET4=${DUALSTACK_LAB_SUBNET4:-10.250.0.0/24}
LAB_SUBNET6=${DUALSTACK_LAB_SUBNET6:-fd42:1ab:250::/64}
LAB_MIRROR=${DUALSTACK_LAB_MIRROR:-http://deb.debian.org/debian}
LAB_CONTAINERS_CONF=${DUALSTACK_LAB_CONTAINERS_CONF:-/etc/containers/containers.conf}
LAB_LABEL=dualstack.kubernetes.lab
LAB_PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,iptables,iputils-ping,procps,kmod,sudo,ca-certificates

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

log() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

# Addresses: host number K in both subnets (10.250.0.K and fd42:1ab:250::K, K written
# in decimal digits in both, as the kubeadm article numbers its nodes .11 and ::11).
addr4() { local net=${LAB_SUBNET4%/*}; printf '%s.%s' "${net%.*}" "$1"; }
addr6() { local net=${LAB_SUBNET6%/*}; printf '%s%s' "${net%::*}::" "$1"; }

cmd_deps() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v ip >/dev/null || missing+=(iproute2)
  if ((${#missing[@]})); then
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}; run as root or install them"
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# crun rejects hybrid cgroup hierarchies, and podman's default ulimits can be above what
# this host lets a container set; both are written only when a trial container fails.
configure_podman() {
  if podman run --rm --network none "$LAB_IMAGE" /bin/true >/dev/null 2>&1; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "podman cannot start a container here and only root may change $LAB_CONTAINERS_CONF"
  if [ -s "$LAB_CONTAINERS_CONF" ] && grep -q "$LAB_LABEL" "$LAB_CONTAINERS_CONF"; then
    die "podman cannot start a container even with $LAB_CONTAINERS_CONF; see 'podman run --rm $LAB_IMAGE /bin/true'"
  fi
  [ -s "$LAB_CONTAINERS_CONF" ] && die "podman cannot start a container and $LAB_CONTAINERS_CONF exists: set runtime = \"runc\" and default_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"] in it"
  log "podman needs runc and lower ulimits on this host: writing $LAB_CONTAINERS_CONF"
  mkdir -p "$(dirname "$LAB_CONTAINERS_CONF")"
  cat >"$LAB_CONTAINERS_CONF" <<EOF
# Written by $LAB_LABEL: this host has hybrid cgroups (crun refuses them) and a hard
# RLIMIT below podman's defaults.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
EOF
  podman run --rm --network none "$LAB_IMAGE" /bin/true >/dev/null ||
    die "podman still cannot start a container with $LAB_CONTAINERS_CONF"
}

cmd_image() {
  local rebuild=0
  [ "${1:-}" = --rebuild ] && rebuild=1
  if podman image exists "$LAB_IMAGE" && [ $rebuild = 0 ]; then
    log "image $LAB_IMAGE exists (reused; --rebuild to build it again)"
  else
    local root
    root=$(mktemp -d /var/tmp/dualstack-lab-rootfs.XXXXXX)
    log "debootstrap bookworm into $root (about a minute)"
    debootstrap --variant=minbase --include="$LAB_PACKAGES" bookworm "$root" "$LAB_MIRROR" >"$root.log" 2>&1 &
    local pid=$! waited=0
    # Its own output is long: every 15 s, the step it is at.
    while kill -0 "$pid" 2>/dev/null; do
      sleep 1
      waited=$((waited + 1))
      if [ $((waited % 15)) = 0 ] && kill -0 "$pid" 2>/dev/null; then
        log "debootstrap, ${waited} s: $(grep '^I: ' "$root.log" | tail -1 | cut -c4-)"
      fi
    done
    wait "$pid" || { tail -20 "$root.log" >&2; die "debootstrap failed (log above)"; }
    rm -f "$root.log"
    # Nodes boot systemd as PID 1: units that cannot work in a container are masked.
    for unit in getty@tty1.service console-getty.service systemd-udevd.service \
      systemd-udev-trigger.service systemd-remount-fs.service; do
      ln -sf /dev/null "$root/etc/systemd/system/$unit"
    done
    printf 'deb %s bookworm main\n' "$LAB_MIRROR" >"$root/etc/apt/sources.list"
    : >"$root/etc/machine-id"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    podman rmi -f "$LAB_IMAGE" >/dev/null 2>&1 || true
    tar -C "$root" -c . | podman import --change 'CMD ["/sbin/init"]' \
      --change "LABEL $LAB_LABEL=node" - "$LAB_IMAGE" >/dev/null 2>&1
    rm -rf "$root"
    log "built image $LAB_IMAGE"
  fi
  configure_podman
}

cmd_network() {
  if podman network exists "$LAB_NETWORK"; then
    log "network $LAB_NETWORK exists (reused)"
    return 0
  fi
  podman network create --ipv6 --subnet "$LAB_SUBNET4" --subnet "$LAB_SUBNET6" \
    --label "$LAB_LABEL=network" "$LAB_NETWORK" >/dev/null
  log "created network $LAB_NETWORK ($LAB_SUBNET4, $LAB_SUBNET6)"
}

cmd_prepare() {
  cmd_deps
  cmd_image --reuse
  cmd_network
}

parse_node_opts() {
  count=2 prefix=dslab first=11 inventory=""
  while (($#)); do
    case $1 in
      -n) count=$2; shift 2 ;;
      -p) prefix=$2; shift 2 ;;
      -f) first=$2; shift 2 ;;
      -i) inventory=$2; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  [ -n "$inventory" ] || inventory="$repo/.lab/$prefix.inventory.yml"
}

lab_nodes() {
  podman ps -a --filter "label=$LAB_LABEL.prefix=$1" --format '{{.Names}}' | sort -V
}

cmd_up() {
  parse_node_opts "$@"
  cmd_prepare
  local i name k
  for ((i = 1; i <= count; i++)); do
    name="$prefix-$i"
    k=$((first + i - 1))
    if podman container exists "$name"; then
      podman start "$name" >/dev/null
      continue
    fi
    podman run -d --name "$name" --hostname "$name" --privileged --systemd=always \
      --network "$LAB_NETWORK" --ip "$(addr4 $k)" --ip6 "$(addr6 $k)" \
      --label "$LAB_LABEL.prefix=$prefix" --label "$LAB_LABEL.host=$k" \
      --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
      "$LAB_IMAGE" /sbin/init >/dev/null
  done
  for name in $(lab_nodes "$prefix"); do
    for _ in $(seq 1 60); do
      state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
      case $state in running | degraded) break ;; esac
      sleep 0.5
    done
    case $state in running | degraded) ;; *) die "$name did not boot systemd (state: ${state:-none})" ;; esac
  done
  write_inventory
  log "$count node(s) up; inventory: $inventory"
}

write_inventory() {
  mkdir -p "$(dirname "$inventory")"
  local tmp name k
  tmp=$(mktemp "$inventory.XXXXXX")
  {
    echo "# Written by tests/lab/lab.sh for the nodes labelled $LAB_LABEL.prefix=$prefix."
    echo "all:"
    echo "  vars:"
    echo "    ansible_connection: containers.podman.podman"
    echo "    ansible_python_interpreter: /usr/bin/python3"
    echo "    dualstack_lab_network: $LAB_NETWORK"
    echo "  hosts:"
    for name in $(lab_nodes "$prefix"); do
      k=$(podman inspect -f "{{ index .Config.Labels \"$LAB_LABEL.host\" }}" "$name")
      echo "    $name:"
      echo "      address_plan_node_ipv4: $(addr4 "$k")"
      echo "      address_plan_node_ipv6: \"$(addr6 "$k")\""
    done
  } >"$tmp"
  mv "$tmp" "$inventory"
}

cmd_inventory() {
  parse_node_opts "$@"
  write_inventory
  cat "$inventory"
}

cmd_down() {
  parse_node_opts "$@"
  local nodes
  mapfile -t nodes < <(lab_nodes "$prefix")
  [ ${#nodes[@]} = 0 ] || podman rm -f -t 0 "${nodes[@]}" >/dev/null
  rm -f "$inventory"
  log "removed ${#nodes[@]} node(s) (prefix $prefix)"
}

cmd_destroy() {
  local nodes
  mapfile -t nodes < <(podman ps -a --filter "label=$LAB_LABEL.prefix" --format '{{.Names}}')
  [ ${#nodes[@]} = 0 ] || podman rm -f -t 0 "${nodes[@]}" >/dev/null
  ! podman network exists "$LAB_NETWORK" || podman network rm -f "$LAB_NETWORK" >/dev/null
  if [ "${1:-}" = --image ]; then
    podman rmi -f "$LAB_IMAGE" >/dev/null 2>&1 || true
  fi
  rm -rf "$repo/.lab"
  log "lab destroyed"
}

cmd_status() {
  podman ps -a --filter "label=$LAB_LABEL.prefix" --format '{{.Names}}\t{{.Status}}\t{{.Labels}}' || true
  podman network exists "$LAB_NETWORK" && echo "network $LAB_NETWORK: present" || echo "network $LAB_NETWORK: absent"
  podman image exists "$LAB_IMAGE" && echo "image $LAB_IMAGE: present" || echo "image $LAB_IMAGE: absent"
}

sub=${1:-}
shift || true
case $sub in
  deps | image | network | prepare | up | inventory | down | destroy | status) "cmd_$sub" "$@" ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
