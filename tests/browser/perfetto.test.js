// Decodes spool-trace's Perfetto export with an independent protobuf decoder
// (protobufjs, from a schema written here after Perfetto's trace.proto, not
// from our encoder) and checks it: every packet decodes; each sequence opens
// with cleared incremental state, interned names and a default track that a
// TrackDescriptor declares; slices balance and nest per track with
// non-decreasing timestamps; every name ID resolves; every terminating flow
// has a start; the P slices match the Chrome JSON export's slice count (an
// independent path through the viewer); and the file is at most 3x the
// trace's size for the traces given (spool's demo and the Go fixture in CI).
//
//   SPOOL_TRACE_BIN=path/to/spool-trace node perfetto.test.js TRACE...
'use strict';
const protobuf = require('protobufjs');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const assert = require('assert');

const SCHEMA = `
syntax = "proto2";
package perfetto.protos;
message Trace { repeated TracePacket packet = 1; }
message TracePacket {
  optional uint64 timestamp = 8;
  optional uint32 trusted_packet_sequence_id = 10;
  optional TrackEvent track_event = 11;
  optional InternedData interned_data = 12;
  optional uint32 sequence_flags = 13;
  optional TracePacketDefaults trace_packet_defaults = 59;
  optional TrackDescriptor track_descriptor = 60;
}
message TracePacketDefaults { optional TrackEventDefaults track_event_defaults = 11; }
message TrackEventDefaults { optional uint64 track_uuid = 11; }
message TrackDescriptor { optional uint64 uuid = 1; optional string name = 2; optional ProcessDescriptor process = 3; optional uint64 parent_uuid = 5; }
message ProcessDescriptor { optional int32 pid = 1; optional string process_name = 6; }
message TrackEvent {
  enum Type { TYPE_UNSPECIFIED = 0; TYPE_SLICE_BEGIN = 1; TYPE_SLICE_END = 2; TYPE_INSTANT = 3; TYPE_COUNTER = 4; }
  repeated DebugAnnotation debug_annotations = 4;
  optional Type type = 9;
  optional uint64 name_iid = 10;
  optional uint64 track_uuid = 11;
  optional string name = 23;
  repeated fixed64 flow_ids = 47;
  repeated fixed64 terminating_flow_ids = 48;
}
message DebugAnnotation { optional uint64 name_iid = 1; optional uint64 uint_value = 3; optional string string_value = 6; optional string name = 10; }
message InternedData { repeated EventName event_names = 2; repeated EventName debug_annotation_names = 3; }
message EventName { optional uint64 iid = 1; optional string name = 2; }
`;
const Trace = protobuf.parse(SCHEMA).root.lookupType('perfetto.protos.Trace');
const bin = process.env.SPOOL_TRACE_BIN || path.join(__dirname, '..', '..', 'target', 'release', 'spool-trace');
const num = (v) => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

function check(trace) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-perfetto-'));
  const pb = path.join(tmp, 'out.pftrace'), js = path.join(tmp, 'out.json');
  execFileSync(bin, ['export', trace, '--format', 'perfetto', '-o', pb], { stdio: 'inherit' });
  execFileSync(bin, ['export', trace, '--format', 'chrome-json', '-o', js], { stdio: 'inherit' });
  const bytes = fs.readFileSync(pb), size = fs.statSync(trace).size;
  const t = Trace.decode(bytes);
  const tracks = new Map(), seqs = new Map(), flowsStarted = new Set(), flowsEnded = [];
  let slices = 0, pSlices = 0, instants = 0;
  for (const p of t.packet) {
    if (p.trackDescriptor) { tracks.set(num(p.trackDescriptor.uuid), p.trackDescriptor); continue; }
    const id = p.trustedPacketSequenceId;
    assert(id > 0, 'packet without a sequence id');
    let s = seqs.get(id);
    if (!s) {
      assert(p.sequenceFlags & 1, 'sequence ' + id + ' does not start by clearing its incremental state');
      const track = num(p.tracePacketDefaults && p.tracePacketDefaults.trackEventDefaults && p.tracePacketDefaults.trackEventDefaults.trackUuid);
      assert(tracks.has(track), 'sequence ' + id + ' default track ' + track + ' has no descriptor');
      s = { track, names: new Map(), dnames: new Map(), depth: 0, last: -1 };
      seqs.set(id, s);
    }
    if (p.internedData) {
      for (const n of p.internedData.eventNames) s.names.set(num(n.iid), n.name);
      for (const n of p.internedData.debugAnnotationNames) s.dnames.set(num(n.iid), n.name);
    }
    const e = p.trackEvent;
    if (!e) continue;
    const ts = num(p.timestamp);
    assert(ts >= s.last, 'timestamps go back on sequence ' + id);
    s.last = ts;
    if (e.type === 1 || e.type === 3) {
      assert(s.names.has(num(e.nameIid)), 'name iid ' + num(e.nameIid) + ' not interned on sequence ' + id);
      for (const d of e.debugAnnotations) assert(s.dnames.has(num(d.nameIid)), 'debug annotation name not interned');
    }
    if (e.type === 1) { s.depth++; slices++; if (/^(P\d+|thread \d+ \(no P\)|runtime \(no P\))$/.test(tracks.get(s.track).name)) pSlices++; }
    else if (e.type === 2) { s.depth--; assert(s.depth >= 0, 'slice end without begin on sequence ' + id); }
    else if (e.type === 3) instants++;
    for (const f of e.flowIds) flowsStarted.add(num(f));
    for (const f of e.terminatingFlowIds) flowsEnded.push(num(f));
  }
  for (const [id, s] of seqs) assert.strictEqual(s.depth, 0, 'unclosed slices on sequence ' + id);
  for (const f of flowsEnded) assert(flowsStarted.has(f), 'flow ' + f + ' ends but never starts');
  const chrome = JSON.parse(fs.readFileSync(js, 'utf8')).traceEvents;
  const chromeP = chrome.filter((e) => e.ph === 'X' && e.pid === 1 && e.tid < 2 ** 40).length;
  const chromeFlows = chrome.filter((e) => e.ph === 'f').length;
  assert.strictEqual(pSlices, chromeP, 'P slices: perfetto ' + pSlices + ', chrome-json ' + chromeP);
  assert(flowsEnded.length > 0 && flowsEnded.length === chromeFlows, 'flows: perfetto ' + flowsEnded.length + ', chrome-json ' + chromeFlows);
  const ratio = bytes.length / size;
  console.log('[perfetto-test]', path.basename(trace), size, 'bytes ->', bytes.length, '(' + ratio.toFixed(2) + 'x),', t.packet.length, 'packets,', slices, 'slices,', flowsEnded.length, 'flows,', instants, 'instants');
  assert(ratio <= 3, 'perfetto export is ' + ratio.toFixed(2) + 'x the trace');
  fs.rmSync(tmp, { recursive: true, force: true });
}

try {
  const traces = process.argv.slice(2);
  assert(traces.length, 'usage: node perfetto.test.js TRACE...');
  for (const t of traces) check(t);
  console.log('[perfetto-test] ok');
} catch (e) {
  console.error('[perfetto-test] FAILED:', e && e.stack || e);
  process.exit(1);
}
