# Shared by scripts/test and scripts/run: install what the build, the tests and the app
# need on Debian/Ubuntu, only what is missing, with sudo when not root. Sourced, not run.

# What each need maps to, as Debian package names.
#   build:   a C compiler and linker (rustc links with cc; mimalloc builds C)
#   vulkan:  lavapipe (Mesa's software Vulkan driver) and the Vulkan loader: a wgpu adapter
#            on a machine without a GPU, for the shader tests, the app tests and the app
#   xvfb:    an X server without a screen, for the app where no display exists
#   chattr:  e2fsprogs' chattr, for the read-only-directory fault test run as root
#   slurm:   a one-node Slurm cluster (scripts/slurm-local) for the sweep launcher's test
#   window:  the X11 libraries the window toolkit loads (a desktop has them; a server may not)
#   python:  Python 3 with venv, for the TensorBoard reader that checks `export-metrics`
#   man:     groff, which the man-page test typesets the generated pages with
#   screenshot: ImageMagick's `import`, which scripts/screenshots saves the Xvfb screen with
#   desktop: the XDG tools that check and register scripts/install-desktop's entry and types
missing_packages() {
  local need=()
  for what in "$@"; do
    case "$what" in
      build)
        command -v cc >/dev/null 2>&1 || need+=(build-essential)
        ;;
      vulkan)
        ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
        # `grep` reads all of it (`grep -q` would stop early, and under `pipefail` the
        # SIGPIPE that ldconfig then gets would count as "missing").
        { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep 'libvulkan\.so\.1' >/dev/null \
          || need+=(libvulkan1)
        ;;
      xvfb)
        command -v xvfb-run >/dev/null 2>&1 || need+=(xvfb xauth)
        ;;
      chattr)
        # The fault-injection tests make a directory read-only with `chattr +i` when they
        # run as root (who ignores permission bits).
        command -v chattr >/dev/null 2>&1 || need+=(e2fsprogs)
        ;;
      slurm)
        for pair in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
          command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
        done
        ;;
      python)
        command -v python3 >/dev/null 2>&1 || need+=(python3)
        python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
        ;;
      man)
        command -v groff >/dev/null 2>&1 || need+=(groff-base)
        ;;
      screenshot)
        command -v import >/dev/null 2>&1 || need+=(imagemagick)
        ;;
      desktop)
        command -v desktop-file-validate >/dev/null 2>&1 || need+=(desktop-file-utils)
        command -v update-mime-database >/dev/null 2>&1 || need+=(shared-mime-info)
        ;;
      window)
        # The X11 libraries the window toolkit (winit) loads at run time.
        local libs
        libs=$({ ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; })
        local lib pkg
        for pair in libX11.so.6:libx11-6 libX11-xcb.so.1:libx11-xcb1 libXcursor.so.1:libxcursor1 \
                    libXi.so.6:libxi6 libXrandr.so.2:libxrandr2 libxkbcommon.so.0:libxkbcommon0 \
                    libxkbcommon-x11.so.0:libxkbcommon-x11-0; do
          lib=${pair%%:*}; pkg=${pair#*:}
          grep -qF "$lib " <<<"$libs" || need+=("$pkg")
        done
        ;;
    esac
  done
  echo "${need[@]}"
}

# ensure_packages NEED...: install the missing packages or explain what to install.
ensure_packages() {
  local pkgs
  pkgs=$(missing_packages "$@")
  [ -z "$pkgs" ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "error: these packages are missing: $pkgs" >&2
      echo "       and this user is not root and has no sudo. Ask an administrator to run:" >&2
      echo "       apt-get install $pkgs" >&2
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: these packages are missing: $pkgs (Debian names), and this system has no" >&2
    echo "       apt-get. Install your distribution's equivalents: a C compiler, Mesa's" >&2
    echo "       lavapipe Vulkan driver and the Vulkan loader, and Xvfb." >&2
    return 1
  fi
  echo "latent-explorer set-up: installing $pkgs" >&2
  local log
  log=$(mktemp "${TMPDIR:-/tmp}/latent-explorer-apt.XXXXXX")
  local start=$SECONDS
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q \
        && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs; } \
        >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "error: installing $pkgs failed (apt's log above, all of it in $log); install them and run again" >&2
    return 1
  fi
  echo "latent-explorer set-up: installed $(grep -c '^Setting up' "$log") packages in $((SECONDS - start)) s (apt's log: $log)" >&2
}

# TensorBoard's own Python package in a virtual environment outside the checkout (made
# once, from the package index), whose event reader checks `export-metrics`' files. The
# tests find its interpreter in LATENT_EXPLORER_TB_PYTHON.
ensure_tensorboard() {
  local venv="${LATENT_EXPLORER_TB_VENV:-$HOME/.cache/latent-explorer/tb-venv}"
  if ! "$venv/bin/python" -c 'import tensorboard' >/dev/null 2>&1; then
    local start=$SECONDS
    python3 -m venv "$venv" \
      && "$venv/bin/pip" install -q --disable-pip-version-check tensorboard >&2 \
      || { echo "latent-explorer set-up: could not install tensorboard into $venv" >&2; return 1; }
    echo "latent-explorer set-up: tensorboard installed into $venv in $((SECONDS - start)) s" >&2
  fi
  export LATENT_EXPLORER_TB_PYTHON="$venv/bin/python"
}

# A private runtime directory (wgpu and winit warn without one).
ensure_runtime_dir() {
  if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ] || [ ! -w "$XDG_RUNTIME_DIR" ]; then
    XDG_RUNTIME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/latent-explorer-xdg.XXXXXX")
    export XDG_RUNTIME_DIR
  fi
  chmod 700 "$XDG_RUNTIME_DIR" 2>/dev/null || true
}
