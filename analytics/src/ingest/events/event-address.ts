import type { ConfigEventWord, NodeEventWord, WireNames } from "@konorkestra/sdk/internal";

interface Words {
  node: NodeEventWord;
  config: ConfigEventWord;
}

/** Group and kind word of an event, read from its subject `<prefix>.evt.<group>.<family>.<word>`. */
export interface EventSubjectAddress<F extends keyof Words> {
  group: string;
  word: Words[F];
}

/**
 * The address of an event of `family`, from its subject through the sdk's parser. Throws (the
 * message becomes a reject) for a subject that is not one, has an invalid group or a kind this
 * version does not know.
 */
export function eventAddress<F extends keyof Words>(
  names: WireNames,
  subject: string,
  family: F,
): EventSubjectAddress<F> {
  const a = names.parseEventSubject(subject);
  const head = `${family}.`;
  if (!a || !a.kind.startsWith(head)) {
    throw new Error(
      `invalid ${family} event subject ${subject}: not ${names.prefix}.evt.<group>.${family}.<kind> ` +
        "with a valid group and a known kind",
    );
  }
  return { group: a.group, word: a.kind.slice(head.length) as Words[F] };
}

/**
 * Throws when the payload names another group or kind than the subject: group and kind always
 * come from the subject, and a payload that contradicts it is refused (it may leave the group out).
 */
export function checkPayloadAgrees(
  address: { group: string; word: string },
  payload: { group: string; word: string },
  subject: string,
): void {
  if (payload.group && payload.group !== address.group) {
    throw new Error(
      `payload names group ${payload.group}, subject ${subject} names ${address.group}`,
    );
  }
  if (payload.word !== address.word) {
    throw new Error(`payload kind ${payload.word}, subject ${subject} says ${address.word}`);
  }
}
