import { failureText, redactSecrets } from "../src/failure-text";

describe("redactSecrets", () => {
  test("removes user and password from URLs and password=… pairs, keeps the rest", () => {
    expect(redactSecrets("connect to nats://svc:hunter2@10.0.0.1:4222 failed")).toBe(
      "connect to nats://***@10.0.0.1:4222 failed",
    );
    expect(redactSecrets("postgres://kon:pw@db:5432/konorkestra and tls://token@h:1")).toBe(
      "postgres://***@db:5432/konorkestra and tls://***@h:1",
    );
    expect(redactSecrets("host=db password=pw sslmode=off; token=abc&x=1")).toBe(
      "host=db password=*** sslmode=off; token=***&x=1",
    );
    expect(redactSecrets("connect ECONNREFUSED 127.0.0.1:5432")).toBe(
      "connect ECONNREFUSED 127.0.0.1:5432",
    );
  });
});

describe("failureText", () => {
  test("a PostgreSQL error is named by SQLSTATE only (its text can quote data)", () => {
    const pgErr = Object.assign(new Error('value "secret-row-content" violates check'), {
      code: "23514",
      severity: "ERROR",
    });
    expect(failureText(pgErr)).toBe("PostgreSQL error 23514");
  });

  test("other errors keep their redacted message, bounded", () => {
    const sys = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
      code: "ECONNREFUSED",
    });
    expect(failureText(sys)).toBe("connect ECONNREFUSED 127.0.0.1:5432");
    expect(failureText(new Error("nats://a:b@h:4222 closed"))).toBe("nats://***@h:4222 closed");
    expect(failureText("x".repeat(1000))).toHaveLength(200);
  });
});
