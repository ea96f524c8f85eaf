// @konorkestra/heartbeat: the package is laid out by the foundation issue; its code arrives with the
// issue that delivers it (see README, "Layout").
export {};
