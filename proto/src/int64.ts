import * as protobuf from "protobufjs/minimal";

// `pbjs --force-number` types 64-bit fields as `number` but the runtime still decodes them as
// Long whenever the `long` package is installed (protobufjs#1109), and protobufjs depends on it.
// Dropping Long and reconfiguring makes readers and fromObject produce plain numbers, matching
// the generated types. Every 64-bit value on our wire (unix ms, JetStream sequences, uptimes)
// stays far below 2^53, where numbers are exact.
//
// This is process-wide for this copy of protobufjs; the package is the project's only user of it.
protobuf.util.Long = null as unknown as typeof protobuf.util.Long;
protobuf.configure();
