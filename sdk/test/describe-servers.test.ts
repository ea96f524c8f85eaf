import { describeServers } from "../src/nats/connect-service";

describe("describeServers", () => {
  it("never shows a password written into a server URL", () => {
    expect(
      describeServers(["nats://svc:s3cret@10.0.0.1:4222", "tls://tok@h:1", "nats://h:2"]),
    ).toBe("nats://***@10.0.0.1:4222,tls://***@h:1,nats://h:2");
  });
});
