import { createServer } from "node:http";
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KonError, Konorkestra, silentLogger } from "../src";
import { resolveNodeId } from "../src/internal";

/** A fake EC2 instance metadata service (IMDSv2) on loopback. */
interface FakeImds {
  url: string;
  requests: { method: string; url: string; headers: IncomingMessage["headers"] }[];
  close(): Promise<void>;
}

const TOKEN = "fake-session-token-1";

async function startFakeImds(instanceId = "i-0abc1234def567890", hang = false): Promise<FakeImds> {
  const requests: FakeImds["requests"] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    if (hang) return; // never answers
    if (req.method === "PUT" && req.url === "/latest/api/token") {
      if (!req.headers["x-aws-ec2-metadata-token-ttl-seconds"]) {
        res.writeHead(400).end("missing ttl");
        return;
      }
      res.writeHead(200, { "content-type": "text/plain" }).end(TOKEN);
      return;
    }
    if (req.method === "GET" && req.url === "/latest/meta-data/instance-id") {
      // IMDSv2 only: without the session token the service answers 401.
      if (req.headers["x-aws-ec2-metadata-token"] !== TOKEN) {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { "content-type": "text/plain" }).end(instanceId);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe("node identity from AWS IMDSv2 (fake metadata server on loopback)", () => {
  let imds: FakeImds;
  beforeEach(async () => {
    imds = await startFakeImds();
  });
  afterEach(async () => {
    await imds.close();
  });

  it("gets a session token first and uses it for the instance id", async () => {
    await expect(resolveNodeId({ source: "aws", awsMetadataUrl: `${imds.url}/` })).resolves.toEqual(
      { nodeId: "i-0abc1234def567890", source: "aws" },
    );
    expect(imds.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "PUT /latest/api/token",
      "GET /latest/meta-data/instance-id",
    ]);
    expect(imds.requests[0]?.headers["x-aws-ec2-metadata-token-ttl-seconds"]).toBe("60");
    expect(imds.requests[1]?.headers["x-aws-ec2-metadata-token"]).toBe(TOKEN);
  });

  it("the fake refuses an instance-id request without the token (IMDSv1)", async () => {
    const res = await fetch(`${imds.url}/latest/meta-data/instance-id`);
    expect(res.status).toBe(401);
  });

  it("appends the pid to the instance id when asked", async () => {
    const { nodeId } = await resolveNodeId({
      source: "aws",
      awsMetadataUrl: imds.url,
      appendPid: true,
    });
    expect(nodeId).toBe(`i-0abc1234def567890-${process.pid}`);
  });

  it("never contacts the metadata service on the default path", async () => {
    const { source } = await resolveNodeId({ awsMetadataUrl: imds.url });
    expect(["mac", "hostname"]).toContain(source);
    // The whole connect path too, with the endpoint configured through the environment.
    process.env.KON_AWS_METADATA_URL = imds.url;
    try {
      const kon = await Konorkestra.connect({
        group: "g1",
        configSource: "file:/nonexistent",
        logger: silentLogger,
      });
      expect(["mac", "hostname"]).toContain(kon.nodeIdSource);
      await kon.close();
    } finally {
      delete process.env.KON_AWS_METADATA_URL;
    }
    expect(imds.requests).toEqual([]);
  });

  it("connect with KON_NODE_ID_SOURCE=aws takes the instance id", async () => {
    const kon = await Konorkestra.connect({
      group: "g1",
      nodeIdSource: "aws",
      awsMetadataUrl: imds.url,
      configSource: "file:/nonexistent",
      logger: silentLogger,
    });
    expect(kon.nodeId).toBe("i-0abc1234def567890");
    expect(kon.nodeIdSource).toBe("aws");
    await kon.close();
  });

  it("appends KON_NODE_ID_SUFFIX to the instance id", async () => {
    process.env.KON_NODE_ID_SUFFIX = "service1";
    try {
      const kon = await Konorkestra.connect({
        group: "g1",
        nodeIdSource: "aws",
        awsMetadataUrl: imds.url,
        nodeIdAppendPid: true,
        configSource: "file:/nonexistent",
        logger: silentLogger,
      });
      expect(kon.nodeId).toBe(`i-0abc1234def567890-service1-${process.pid}`);
      expect(kon.nodeIdSource).toBe("aws");
      await kon.close();
    } finally {
      delete process.env.KON_NODE_ID_SUFFIX;
    }
  });
});

describe("node identity from AWS when the metadata service fails", () => {
  it("fails loudly on a dead endpoint instead of falling back to another id", async () => {
    const dead = await startFakeImds();
    const url = dead.url;
    await dead.close(); // nothing listens on this port now
    const err = await resolveNodeId({ source: "aws", awsMetadataUrl: url }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KonError);
    expect(err).toMatchObject({ code: "NODE_ID_UNAVAILABLE" });
    expect(String((err as Error).message)).toMatch(
      new RegExp(
        `metadata service at ${url} gave no instance id \\(connection failed: ECONNREFUSED\\).*set KON_NODE_ID`,
      ),
    );
    await expect(
      Konorkestra.connect({
        group: "g1",
        nodeIdSource: "aws",
        awsMetadataUrl: url,
        configSource: "file:/nonexistent",
      }),
    ).rejects.toMatchObject({ code: "NODE_ID_UNAVAILABLE" });
  });

  it("gives up after the timeout when the endpoint does not answer", async () => {
    const hanging = await startFakeImds("i-1", true);
    try {
      await expect(
        resolveNodeId({ source: "aws", awsMetadataUrl: hanging.url, awsTimeoutMs: 200 }),
      ).rejects.toThrow(/no answer within 200 ms/);
      expect(hanging.requests).toHaveLength(1);
    } finally {
      await hanging.close();
    }
  });

  it("refuses an answer that is not an instance id", async () => {
    const wrong = await startFakeImds("<html>captive portal</html>");
    try {
      await expect(resolveNodeId({ source: "aws", awsMetadataUrl: wrong.url })).rejects.toThrow(
        /is not an instance id/,
      );
    } finally {
      await wrong.close();
    }
  });
});
