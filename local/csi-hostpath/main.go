// Command csi-hostpath is the local cluster's CSI driver: a hostpath driver run as a host process
// beside external-provisioner and the external-snapshotter. Its controller half creates,
// snapshots and clones volumes; with --node-id (tier D, a real kubelet) its node half mounts
// them into pods (node.go).
//
// Upstream's csi-driver-host-path cannot be had from the Go module proxy here. This driver
// keeps upstream's on-disk layout, so tests and tools find a volume's files the same way:
//
//	<statedir>/<volume id>/           a volume's data
//	<statedir>/<snapshot id>.snap/    a snapshot: a full copy of its volume when it was taken
//	<statedir>/state.json             names, sizes and sources of both
//
// Copies use `cp -a --reflink=auto`, so they are copy-on-write on filesystems that can do it.
// Only filesystem volumes exist: block volumes would need loop devices and root.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Stamped by the build with the component's version and a digest of this source.
var version = "dev"

// A volume without a requested size gets what the provisioner's default PVC would ask for.
const defaultSize = 1 << 30

type volume struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

type snapshot struct {
	Name           string    `json:"name"`
	SourceVolumeID string    `json:"sourceVolumeId"`
	Size           int64     `json:"size"`
	CreatedAt      time.Time `json:"createdAt"`
}

type state struct {
	Volumes   map[string]volume   `json:"volumes"`
	Snapshots map[string]snapshot `json:"snapshots"`
}

type driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer

	name string
	dir  string

	// One lock for every request: copies are serialised, and a retried request waits for the
	// first one and then finds its result by name.
	mu sync.Mutex
	st state
}

func main() {
	endpoint := flag.String("endpoint", "", "CSI endpoint, unix:///path/to/csi.sock")
	dir := flag.String("statedir", "", "directory that holds the volumes, the snapshots and state.json")
	name := flag.String("drivername", "hostpath.csi.k8s.io", "CSI driver name")
	nodeID := flag.String("node-id", "", "serve the node service as this node (the kubelet's node name)")
	registryDir := flag.String("kubelet-registry-dir", "", "with --node-id: the kubelet's plugins_registry directory to register in")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	if *endpoint == "" || *dir == "" {
		log.Fatal("--endpoint and --statedir are required")
	}
	d, err := newDriver(*name, *dir)
	if err != nil {
		log.Fatal(err)
	}
	if err := d.serve(*endpoint, *nodeID, *registryDir); err != nil {
		log.Fatal(err)
	}
}

func newDriver(name, dir string) (*driver, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d := &driver{name: name, dir: dir, st: state{Volumes: map[string]volume{}, Snapshots: map[string]snapshot{}}}
	data, err := os.ReadFile(d.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &d.st); err != nil {
		return nil, fmt.Errorf("%s: %w", d.statePath(), err)
	}
	return d, nil
}

func (d *driver) serve(endpoint, nodeID, registryDir string) error {
	path, ok := strings.CutPrefix(endpoint, "unix://")
	if !ok {
		return fmt.Errorf("endpoint must be unix://<path>, got %q", endpoint)
	}
	// A socket left by a killed driver would make Listen fail.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	server := grpc.NewServer(grpc.UnaryInterceptor(logged))
	csi.RegisterIdentityServer(server, d)
	csi.RegisterControllerServer(server, d)
	var reg *grpc.Server
	if nodeID != "" {
		csi.RegisterNodeServer(server, &nodeServer{d: d, nodeID: nodeID})
		if registryDir != "" {
			if reg, err = serveRegistration(registryDir, d.name, path); err != nil {
				return err
			}
		}
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		if reg != nil {
			reg.Stop()
		}
		server.GracefulStop()
	}()
	log.Printf("Serving %s %s on %s, state in %s", d.name, version, path, d.dir)
	return server.Serve(lis)
}

func logged(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		log.Printf("%s failed: %v", info.FullMethod, err)
	} else if !strings.HasSuffix(info.FullMethod, "/Probe") {
		log.Printf("%s succeeded", info.FullMethod)
	}
	return resp, err
}

func (d *driver) statePath() string { return filepath.Join(d.dir, "state.json") }

func (d *driver) volumePath(id string) string { return filepath.Join(d.dir, id) }

func (d *driver) snapshotPath(id string) string { return filepath.Join(d.dir, id+".snap") }

func (d *driver) save() error {
	data, err := json.MarshalIndent(d.st, "", "  ")
	if err != nil {
		return err
	}
	tmp := d.statePath() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, d.statePath())
}

// Identity service

func (d *driver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: d.name, VendorVersion: version}, nil
}

func (d *driver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	// No VOLUME_ACCESSIBILITY_CONSTRAINTS: volumes live on the one host every node shares.
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{{
		Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{Type: csi.PluginCapability_Service_CONTROLLER_SERVICE}},
	}}}, nil
}

func (d *driver) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{}, nil
}

// Controller service

func (d *driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, c := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
		csi.ControllerServiceCapability_RPC_CLONE_VOLUME,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{
			Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: c}},
		})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

func (d *driver) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is required")
	}
	if err := filesystemOnly(req.GetVolumeCapabilities()); err != nil {
		return nil, err
	}
	size := req.GetCapacityRange().GetRequiredBytes()
	if size == 0 {
		size = req.GetCapacityRange().GetLimitBytes()
	}
	if size == 0 {
		size = defaultSize
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	for id, v := range d.st.Volumes {
		if v.Name != req.GetName() {
			continue
		}
		if v.Size < req.GetCapacityRange().GetRequiredBytes() || (req.GetCapacityRange().GetLimitBytes() > 0 && v.Size > req.GetCapacityRange().GetLimitBytes()) {
			return nil, status.Errorf(codes.AlreadyExists, "volume %s exists with another size (%d bytes)", req.GetName(), v.Size)
		}
		return &csi.CreateVolumeResponse{Volume: &csi.Volume{VolumeId: id, CapacityBytes: v.Size, ContentSource: req.GetVolumeContentSource()}}, nil
	}

	from := ""
	switch src := req.GetVolumeContentSource(); {
	case src.GetSnapshot() != nil:
		id := src.GetSnapshot().GetSnapshotId()
		s, ok := d.st.Snapshots[id]
		if !ok {
			return nil, status.Errorf(codes.NotFound, "snapshot %s not found", id)
		}
		if s.Size > size {
			return nil, status.Errorf(codes.OutOfRange, "snapshot %s needs %d bytes, the volume has %d", id, s.Size, size)
		}
		from = d.snapshotPath(id)
	case src.GetVolume() != nil:
		id := src.GetVolume().GetVolumeId()
		v, ok := d.st.Volumes[id]
		if !ok {
			return nil, status.Errorf(codes.NotFound, "volume %s not found", id)
		}
		if v.Size > size {
			return nil, status.Errorf(codes.OutOfRange, "volume %s has %d bytes, the clone %d", id, v.Size, size)
		}
		from = d.volumePath(id)
	}

	id := newID()
	if err := makeCopy(from, d.volumePath(id)); err != nil {
		return nil, status.Errorf(codes.Internal, "creating volume %s: %v", req.GetName(), err)
	}
	d.st.Volumes[id] = volume{Name: req.GetName(), Size: size}
	if err := d.save(); err != nil {
		_ = os.RemoveAll(d.volumePath(id))
		delete(d.st.Volumes, id)
		return nil, status.Errorf(codes.Internal, "saving state: %v", err)
	}
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{VolumeId: id, CapacityBytes: size, ContentSource: req.GetVolumeContentSource()}}, nil
}

func (d *driver) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.st.Volumes[id]; !ok {
		return &csi.DeleteVolumeResponse{}, nil
	}
	if err := os.RemoveAll(d.volumePath(id)); err != nil {
		return nil, status.Errorf(codes.Internal, "deleting volume %s: %v", id, err)
	}
	delete(d.st.Volumes, id)
	if err := d.save(); err != nil {
		return nil, status.Errorf(codes.Internal, "saving state: %v", err)
	}
	return &csi.DeleteVolumeResponse{}, nil
}

func (d *driver) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	d.mu.Lock()
	_, ok := d.st.Volumes[req.GetVolumeId()]
	d.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "volume %s not found", req.GetVolumeId())
	}
	if err := filesystemOnly(req.GetVolumeCapabilities()); err != nil {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: err.Error()}, nil
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext:      req.GetVolumeContext(),
		VolumeCapabilities: req.GetVolumeCapabilities(),
		Parameters:         req.GetParameters(),
	}}, nil
}

func (d *driver) CreateSnapshot(_ context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	if req.GetName() == "" || req.GetSourceVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "name and source volume id are required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, s := range d.st.Snapshots {
		if s.Name != req.GetName() {
			continue
		}
		if s.SourceVolumeID != req.GetSourceVolumeId() {
			return nil, status.Errorf(codes.AlreadyExists, "snapshot %s exists for volume %s", req.GetName(), s.SourceVolumeID)
		}
		return &csi.CreateSnapshotResponse{Snapshot: toCSI(id, s)}, nil
	}
	v, ok := d.st.Volumes[req.GetSourceVolumeId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "volume %s not found", req.GetSourceVolumeId())
	}
	id := newID()
	if err := makeCopy(d.volumePath(req.GetSourceVolumeId()), d.snapshotPath(id)); err != nil {
		return nil, status.Errorf(codes.Internal, "snapshotting volume %s: %v", req.GetSourceVolumeId(), err)
	}
	s := snapshot{Name: req.GetName(), SourceVolumeID: req.GetSourceVolumeId(), Size: v.Size, CreatedAt: time.Now().UTC()}
	d.st.Snapshots[id] = s
	if err := d.save(); err != nil {
		_ = os.RemoveAll(d.snapshotPath(id))
		delete(d.st.Snapshots, id)
		return nil, status.Errorf(codes.Internal, "saving state: %v", err)
	}
	return &csi.CreateSnapshotResponse{Snapshot: toCSI(id, s)}, nil
}

func (d *driver) DeleteSnapshot(_ context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	id := req.GetSnapshotId()
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "snapshot id is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.st.Snapshots[id]; !ok {
		return &csi.DeleteSnapshotResponse{}, nil
	}
	if err := os.RemoveAll(d.snapshotPath(id)); err != nil {
		return nil, status.Errorf(codes.Internal, "deleting snapshot %s: %v", id, err)
	}
	delete(d.st.Snapshots, id)
	if err := d.save(); err != nil {
		return nil, status.Errorf(codes.Internal, "saving state: %v", err)
	}
	return &csi.DeleteSnapshotResponse{}, nil
}

func (d *driver) ListSnapshots(_ context.Context, req *csi.ListSnapshotsRequest) (*csi.ListSnapshotsResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	for id, s := range d.st.Snapshots {
		if req.GetSnapshotId() != "" && id != req.GetSnapshotId() {
			continue
		}
		if req.GetSourceVolumeId() != "" && s.SourceVolumeID != req.GetSourceVolumeId() {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)

	start := 0
	if req.GetStartingToken() != "" {
		n, err := strconv.Atoi(req.GetStartingToken())
		if err != nil || n < 0 || n > len(ids) {
			return nil, status.Errorf(codes.Aborted, "invalid starting token %q", req.GetStartingToken())
		}
		start = n
	}
	end := len(ids)
	if m := int(req.GetMaxEntries()); m > 0 && start+m < end {
		end = start + m
	}
	resp := &csi.ListSnapshotsResponse{}
	for _, id := range ids[start:end] {
		resp.Entries = append(resp.Entries, &csi.ListSnapshotsResponse_Entry{Snapshot: toCSI(id, d.st.Snapshots[id])})
	}
	if end < len(ids) {
		resp.NextToken = strconv.Itoa(end)
	}
	return resp, nil
}

func toCSI(id string, s snapshot) *csi.Snapshot {
	return &csi.Snapshot{
		SnapshotId:     id,
		SourceVolumeId: s.SourceVolumeID,
		SizeBytes:      s.Size,
		CreationTime:   timestamppb.New(s.CreatedAt),
		ReadyToUse:     true,
	}
}

func filesystemOnly(caps []*csi.VolumeCapability) error {
	if len(caps) == 0 {
		return status.Error(codes.InvalidArgument, "volume capabilities are required")
	}
	for _, c := range caps {
		if c.GetBlock() != nil {
			return status.Error(codes.InvalidArgument, "block volumes are not supported, only filesystem volumes")
		}
	}
	return nil
}

// makeCopy creates dst as a copy of the directory src, or empty when src is "". A failed copy
// leaves nothing behind.
func makeCopy(src, dst string) error {
	if err := os.Mkdir(dst, 0o777); err != nil {
		return err
	}
	if src == "" {
		return nil
	}
	out, err := exec.Command("cp", "-a", "--reflink=auto", src+"/.", dst).CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(dst)
		return fmt.Errorf("cp: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
