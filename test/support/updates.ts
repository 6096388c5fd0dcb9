/** A `subscription-update` as clients receive it (PROTOCOL.md §4). */
export interface Update {
  id: number;
  type: 'subscription-update';
  data: {
    group: string;
    type: 'create' | 'update' | 'delete';
    object: Record<string, unknown>;
    seq: number;
    epoch: string;
  };
}

/** What a subscription-update says of the change, without its place in the group's history. */
export const changeIn = ({ data: { group, type, object } }: Update) => ({ group, type, object });
