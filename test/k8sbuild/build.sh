#!/usr/bin/env bash
# Builds kube-apiserver (k8s.io/kubernetes v1.37.2), etcd (v3.6.16) and
# kustomize (v5.8.2) from the Go module proxy into a cache directory outside
# the repository, for the tests under test/harness/testenv/kubeapiserver and
# test/e2ek8s.
#
# Usage: test/k8sbuild/build.sh            # prints the directory on stdout
#
# The directory is $OTELCOL_EKS_K8S_BIN if set, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-eks/k8s-v1.37.2-etcd-v3.6.16. A
# binary already there is kept (the build is ~10 minutes cold on 2 cores);
# each one is written under a temporary name and renamed, so an interrupted
# build never leaves a half-written binary that a later run would trust.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Keep in sync with kubeapiserver.DefaultBinDir.
dir="${OTELCOL_EKS_K8S_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-eks/k8s-v1.37.2-etcd-v3.6.16}"
mkdir -p "$dir"

export CGO_ENABLED=0
# -trimpath as everywhere in the project; -mod=readonly so the build uses
# exactly the committed go.sum. GOWORK=off: these are modules of their own.
export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
export GOWORK=off

build() { # build MODULE_DIR PACKAGE NAME [LDFLAGS...]
	local moddir=$1 pkg=$2 name=$3
	shift 3
	if [[ -x "$dir/$name" ]]; then
		echo "k8sbuild: $dir/$name present, not rebuilding" >&2
		return
	fi
	local start=$SECONDS
	echo "k8sbuild: building $name ($pkg)..." >&2
	(cd "$moddir" && go build -ldflags "-s -w $*" -o "$dir/.$name.tmp" "$pkg")
	mv "$dir/.$name.tmp" "$dir/$name"
	echo "k8sbuild: built $dir/$name in $((SECONDS - start)) s" >&2
}

build "$here/etcd" go.etcd.io/etcd/server/v3 etcd
build "$here/kustomize" sigs.k8s.io/kustomize/kustomize/v5 kustomize
# The version kube-apiserver reports (/version, and the binary version its
# compatibility checks start from); `make` in kubernetes sets the same.
v=k8s.io/component-base/version
build "$here" k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver \
	-X $v.gitVersion=v1.37.2 -X $v.gitMajor=1 -X $v.gitMinor=37 -X $v.gitTreeState=clean
echo "$dir"
