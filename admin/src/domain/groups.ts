import type { Logger } from "@konorkestra/sdk";
import { assertGroupName } from "@konorkestra/sdk/internal";
import type { Pool } from "pg";
import { isUniqueViolation, withTransaction } from "../pg/transaction";
import type { Queryable } from "../pg/transaction";
import { formatJoinKey, newJoinKey } from "../secrets/join-key";
import type { PasswordHasher } from "../secrets/password-hasher";
import type { GroupInfo, GroupStore, JoinKeyInfo } from "../store/group-store";
import { AdminError, AdminErrorCode } from "./admin-error";
import type { JoinKeys } from "./join-keys";

/** A group's NATS side: its config bucket `cfg_<group>`. */
export interface GroupBuckets {
  create(group: string): Promise<void>;
  remove(group: string): Promise<void>;
}

/** A new join key as shown once: the key, and its id (which stays visible). */
export interface NewJoinKey {
  joinKey: string;
  keyId: string;
}

export interface GroupsDeps {
  pool: Pool;
  store: GroupStore;
  buckets: GroupBuckets;
  hasher: PasswordHasher;
  joinKeys: JoinKeys;
  logger: Logger;
  /** How long a replaced key stays valid by default. */
  graceMs: number;
  now?: () => number;
}

const noSuchGroup = (): AdminError => new AdminError(AdminErrorCode.NotFound, "no such group");

/**
 * Groups and their join keys. Creating a group creates its config bucket and a first key; the
 * key (140 random bits) is returned once and stored as an argon2id hash beside its key id.
 */
export class Groups {
  private readonly now: () => number;

  constructor(private readonly d: GroupsDeps) {
    this.now = d.now ?? Date.now;
  }

  async create(name: string, by: string): Promise<{ group: GroupInfo } & NewJoinKey> {
    assertGroupName(name);
    const key = await withTransaction(this.d.pool, async (db) => {
      try {
        await this.d.store.insertGroup(db, name, by);
      } catch (err) {
        if (isUniqueViolation(err)) throw new AdminError(AdminErrorCode.Conflict, "group exists");
        throw err;
      }
      const k = await this.addKey(db, name, by);
      // Inside the transaction: if NATS refuses, no group row is left without its bucket.
      await this.d.buckets.create(name);
      return k;
    });
    return { group: (await this.d.store.get(name))!, ...key };
  }

  list(): Promise<GroupInfo[]> {
    return this.d.store.list();
  }

  async show(name: string): Promise<GroupInfo & { keys: JoinKeyInfo[] }> {
    const group = await this.d.store.get(name);
    if (!group) throw noSuchGroup();
    return { ...group, keys: await this.d.store.keysOf(name) };
  }

  /** Deletes the group, its keys and its config bucket; announces the keys revoked. */
  async delete(name: string): Promise<void> {
    const keyIds = await withTransaction(this.d.pool, async (db) => {
      const ids = await this.d.store.deleteGroup(db, name);
      if (!ids) throw noSuchGroup();
      await this.d.buckets.remove(name);
      return ids;
    });
    this.d.joinKeys.groupDeleted(name, keyIds);
  }

  /**
   * A new key for the group; the current ones stay valid for `graceMs` (0: they stop now and are
   * announced revoked).
   */
  async rotateKey(
    name: string,
    by: string,
    graceMs = this.d.graceMs,
  ): Promise<NewJoinKey & { oldKeysValidUntil: Date }> {
    const until = new Date(this.now() + graceMs);
    const { key, replaced } = await withTransaction(this.d.pool, async (db) => {
      if (!(await this.d.store.get(name))) throw noSuchGroup();
      const replaced = await this.d.store.expireCurrentKeys(db, name, until);
      return { key: await this.addKey(db, name, by), replaced };
    });
    for (const keyId of replaced) this.d.joinKeys.scheduleExpiry(name, keyId, until.getTime());
    return { ...key, oldKeysValidUntil: until };
  }

  /** Revokes one key at once. */
  async revokeKey(name: string, keyId: string): Promise<void> {
    if (!(await this.d.store.revokeKey(name, keyId))) {
      throw new AdminError(AdminErrorCode.NotFound, "no such join key in this group");
    }
    this.d.joinKeys.keyRevoked(name, keyId, "revoked");
  }

  private async addKey(db: Queryable, group: string, by: string): Promise<NewJoinKey> {
    for (let attempt = 0; ; attempt++) {
      const key = newJoinKey();
      const secretHash = await this.d.hasher.hash(key.secret);
      try {
        await db.query("SAVEPOINT add_key");
        await this.d.store.insertKey(db, { keyId: key.keyId, group, secretHash, createdBy: by });
        await db.query("RELEASE SAVEPOINT add_key");
        return { joinKey: formatJoinKey(key), keyId: key.keyId };
      } catch (err) {
        // 40 random bits of key id: a collision is rare, and a new draw fixes it.
        if (!isUniqueViolation(err) || attempt >= 3) throw err;
        await db.query("ROLLBACK TO SAVEPOINT add_key");
      }
    }
  }
}
