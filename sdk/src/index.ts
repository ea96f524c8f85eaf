export { InvalidNameError, KonError, KonErrorCode } from "./errors";
export { GROUP_NAME, assertConfigKey, assertGroupName, assertNodeId, wireNames } from "./names";
export type { WireNames } from "./names";
