/**
 * Group → supergroup migration. When a group becomes a supergroup (an admin turns on a feature
 * that needs one), its chat id changes; Telegram then answers every call for the old id with 400
 * and `parameters.migrate_to_chat_id`. A job in flight at that moment would lose its result, so
 * every call that names a chat goes again, once, with the new id, and the chat's saved settings
 * move along (they also move when the service message with `migrate_to_chat_id` arrives).
 */
import type { Transformer } from 'grammy';
import type { Logger } from 'pino';

export function followMigratedChats(onMigrated: (from: number, to: number) => void, log: Logger): Transformer {
  return async (prev, method, payload, signal) => {
    const result = await prev(method, payload, signal);
    const to = !result.ok ? result.parameters?.migrate_to_chat_id : undefined;
    const chatId = payload && typeof payload === 'object' && 'chat_id' in payload ? Number(payload.chat_id) : undefined;
    if (to === undefined || chatId === undefined || !Number.isFinite(chatId)) return result;
    log.info({ from: chatId, to, method }, 'the group became a supergroup: sending to its new id');
    onMigrated(chatId, to);
    return prev(method, { ...payload, chat_id: to } as typeof payload, signal);
  };
}
