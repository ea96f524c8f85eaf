import { AckFloor } from "../src/ack-floor";

const msg = (seq: number) => ({ seq });

// One beat waiting for a KON_HB look-up must not be acknowledged by an AckAll of a later message
// that other nodes' beats reached meanwhile.
describe("AckFloor", () => {
  it("names the newest done message with nothing unfinished before it", () => {
    const f = new AckFloor<{ seq: number }>();
    f.done(1, msg(1));
    f.hold(2); // waits for a look-up
    f.done(3, msg(3));
    f.done(4, msg(4));
    expect(f.take()?.seq).toBe(1);
    expect(f.take()).toBeUndefined();
    f.done(2, msg(2)); // the look-up answered: 2, 3 and 4 are all done
    expect(f.take()?.seq).toBe(4);
  });

  it("keeps the floor at the oldest unfinished message", () => {
    const f = new AckFloor<{ seq: number }>();
    f.hold(5);
    f.hold(7);
    f.done(6, msg(6));
    f.done(5, msg(5));
    expect(f.take()?.seq).toBe(6);
    f.done(8, msg(8));
    expect(f.take()).toBeUndefined();
    f.done(7, msg(7));
    expect(f.take()?.seq).toBe(8);
  });
});
