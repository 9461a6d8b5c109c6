#!/usr/bin/env bash
# lamina end to end, offline: make a base image from Debian's busybox, import it, list,
# inspect, show its history, tag, save, push it to a lamina registry and pull it back with
# lamina alone, remove, load it back, run containers from it, and check the store.
# Uses its own data root (default /tmp/lamina-demo) so it never touches /var/lib/lamina.
set -euo pipefail
root="${LAMINA_DEMO_ROOT:-/tmp/lamina-demo}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
lamina() { command lamina --data-root "$root" "$@"; }
say() { printf '\n\033[1m$ lamina %s\033[0m\n' "$*"; }

rm -rf "$root"
python3 -c 'import sys; from lamina.testing.rootfs import write_busybox_rootfs; write_busybox_rootfs(sys.stdout.buffer)' > "$work/rootfs.tar"
echo "built a busybox root filesystem: $(du -h "$work/rootfs.tar" | cut -f1)"

say image import -c 'CMD ["/bin/sh"]' -m "busybox from Debian" rootfs.tar busybox:latest
lamina image import -c 'CMD ["/bin/sh"]' -m "busybox from Debian" "$work/rootfs.tar" busybox:latest
say tag busybox:latest localhost:5000/demo/busybox:v1
lamina tag busybox:latest localhost:5000/demo/busybox:v1
say images
lamina images
say image inspect -f '{{.Id}} {{json .RepoTags}} {{.Config.Cmd}} {{.GraphDriver.Name}}' busybox
lamina image inspect -f '{{.Id}} {{json .RepoTags}} {{.Config.Cmd}} {{.GraphDriver.Name}}' busybox
say image inspect -f '{{range $i, $l := .RootFS.Layers}}layer {{$i}}: {{$l}}{{println}}{{end}}' busybox
lamina image inspect -f '{{range $i, $l := .RootFS.Layers}}layer {{$i}}: {{$l}}{{println}}{{end}}' busybox
say history busybox
lamina history busybox
say save -o busybox.tar busybox
lamina save -o "$work/busybox.tar" busybox
# a private registry: push the image to it with lamina, list it, pull it back into a fresh root
port=5000
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
say registry serve --addr 127.0.0.1:$port --root registry
command lamina registry serve --addr "127.0.0.1:$port" --root "$work/registry" 2>"$work/registry.log" &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
say tag busybox 127.0.0.1:$port/demo/busybox:v1
lamina tag busybox "127.0.0.1:$port/demo/busybox:v1"
say push 127.0.0.1:$port/demo/busybox:v1
lamina push "127.0.0.1:$port/demo/busybox:v1"
say search 127.0.0.1:$port/busybox
lamina search "127.0.0.1:$port/busybox"
say --data-root pulled pull 127.0.0.1:$port/demo/busybox:v1
command lamina --data-root "$work/pulled" pull "127.0.0.1:$port/demo/busybox:v1"
say --data-root pulled images --digests
command lamina --data-root "$work/pulled" images --digests
kill "$registry_pid"; wait "$registry_pid" 2>/dev/null || true

say rmi busybox localhost:5000/demo/busybox:v1 127.0.0.1:$port/demo/busybox:v1
lamina rmi busybox localhost:5000/demo/busybox:v1 "127.0.0.1:$port/demo/busybox:v1"
say load -i busybox.tar
lamina load -i "$work/busybox.tar"
say run --name hello --network none busybox sh -c 'echo hello from a container > /greeting; cat /greeting'
lamina run --name hello --network none busybox sh -c 'echo hello from a container > /greeting; cat /greeting'
say diff hello
lamina diff hello
say container inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.GraphDriver.Data.UpperDir}}' hello
lamina container inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.GraphDriver.Data.UpperDir}}' hello
say run -d --name ticker --network none busybox sh -c 'while true; do date; sleep 1; done'
lamina run -d --name ticker --network none busybox sh -c 'while true; do date; sleep 1; done' >/dev/null
sleep 1.5
say ps -a
lamina ps -a
say exec ticker cat /proc/1/cmdline, then logs --tail 1 ticker
lamina exec ticker cat /proc/1/cmdline | tr '\0' ' '; echo
lamina logs --tail 1 ticker
say rm -f ticker hello
lamina rm -f ticker hello
say system df -v
lamina system df -v
say system check
lamina system check
say info
lamina info
