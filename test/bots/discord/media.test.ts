import { describe, expect, it } from 'vitest';
import { declaredKind, findMessageMedia, fromAttachment, isAllowedMediaUrl, isExpiredMediaUrl } from '#src/bots/discord/media.ts';
import { parseConfig } from '#src/config.ts';

const DEFAULT_HOSTS = parseConfig({}).DISCORD_MEDIA_HOSTS;
const attachment = (name: string, contentType: string | null, size = 1000) => ({ url: `https://cdn.discordapp.com/attachments/1/2/${name}`, name, contentType, size });

describe('Discord media URLs', () => {
  it("allows Discord's media hosts over https only", () => {
    expect(isAllowedMediaUrl('https://cdn.discordapp.com/attachments/1/2/a.png?ex=1', DEFAULT_HOSTS)).toBe(true);
    expect(isAllowedMediaUrl('https://media.discordapp.net/attachments/1/2/a.png', DEFAULT_HOSTS)).toBe(true);
    expect(isAllowedMediaUrl('https://images-ext-1.discordapp.net/external/abc/https/example.com/a.png', DEFAULT_HOSTS)).toBe(true);
    expect(isAllowedMediaUrl('http://cdn.discordapp.com/a.png', DEFAULT_HOSTS)).toBe(false);
    expect(isAllowedMediaUrl('https://cdn.discordapp.com:8443/a.png', DEFAULT_HOSTS)).toBe(false);
  });

  it('refuses internal addresses, look-alike hosts, credentials and other schemes', () => {
    for (const url of [
      'http://127.0.0.1/a.png',
      'http://169.254.169.254/latest/meta-data/',
      'https://localhost/a.png',
      'https://cdn.discordapp.com.evil.example/a.png',
      'https://evilcdn.discordapp.com/a.png',
      'https://user:pw@cdn.discordapp.com/a.png',
      'file:///etc/passwd',
      'ftp://cdn.discordapp.com/a.png',
      'not a url',
    ]) {
      expect(isAllowedMediaUrl(url, DEFAULT_HOSTS), url).toBe(false);
    }
  });

  it('takes wildcard domains and exact origins', () => {
    const hosts = ['*.discordapp.net', 'http://127.0.0.1:8080'];
    expect(isAllowedMediaUrl('https://media.discordapp.net/a.png', hosts)).toBe(true);
    expect(isAllowedMediaUrl('https://discordapp.net/a.png', hosts)).toBe(false);
    expect(isAllowedMediaUrl('https://a.b.discordapp.net/a.png', hosts)).toBe(true);
    expect(isAllowedMediaUrl('http://127.0.0.1:8080/x/a.png', hosts)).toBe(true);
    expect(isAllowedMediaUrl('http://127.0.0.1:8081/x/a.png', hosts)).toBe(false);
    expect(isAllowedMediaUrl('https://127.0.0.1:8080/x/a.png', hosts)).toBe(false);
  });

  it('validates DISCORD_MEDIA_HOSTS', () => {
    expect(parseConfig({ DISCORD_MEDIA_HOSTS: ' CDN.example.com, *.example.net ,http://127.0.0.1:9' }).DISCORD_MEDIA_HOSTS).toEqual([
      'cdn.example.com',
      '*.example.net',
      'http://127.0.0.1:9',
    ]);
    expect(() => parseConfig({ DISCORD_MEDIA_HOSTS: 'http://x/y' })).toThrow(/DISCORD_MEDIA_HOSTS/);
    expect(() => parseConfig({ DISCORD_MEDIA_HOSTS: ',' })).toThrow(/DISCORD_MEDIA_HOSTS/);
  });
});

describe('Discord media in attachments and messages', () => {
  it('takes pictures, GIFs and videos; refuses other files by kind', () => {
    expect(fromAttachment(attachment('a.jpg', 'image/jpeg'))).toMatchObject({ media: { trusted: true, size: 1000, contentType: 'image/jpeg' } });
    expect(fromAttachment(attachment('clip.mov', 'video/quicktime'))).toHaveProperty('media');
    expect(fromAttachment(attachment('noext.gif', null))).toHaveProperty('media');
    const pdf = fromAttachment(attachment('doc.pdf', 'application/pdf'));
    expect('refusal' in pdf && pdf.refusal.code).toBe('UNSUPPORTED_MEDIA');
    expect('refusal' in pdf && pdf.refusal.message).toContain('PDF');
    const text = fromAttachment(attachment('notes.txt', 'text/plain; charset=utf-8'));
    expect('refusal' in text && text.refusal.message).toContain('text');
    const odd = fromAttachment(attachment('thing.xyz', 'application/octet-stream'));
    expect('refusal' in odd && odd.refusal.message).toContain('XYZ');
  });

  it('prefers an attachment, then an allowed embed image (proxy first)', () => {
    const embeds = [{ image: { url: 'https://example.com/cat.png', proxyURL: 'https://images-ext-1.discordapp.net/external/x/cat.png' } }];
    const withBoth = findMessageMedia({ attachments: [attachment('doc.pdf', 'application/pdf'), attachment('a.png', 'image/png')], embeds }, DEFAULT_HOSTS);
    expect(withBoth).toMatchObject({ media: { name: 'a.png', trusted: true } });
    const embedOnly = findMessageMedia({ attachments: [], embeds }, DEFAULT_HOSTS);
    expect(embedOnly).toMatchObject({ media: { url: 'https://images-ext-1.discordapp.net/external/x/cat.png', name: 'cat.png', trusted: false } });
  });

  it('refuses embeds on other hosts, and says when a message has nothing', () => {
    const foreign = findMessageMedia({ attachments: [], embeds: [{ image: { url: 'http://10.0.0.5/cat.png' } }] }, DEFAULT_HOSTS);
    expect('refusal' in foreign && foreign.refusal.code).toBe('MEDIA_HOST_NOT_ALLOWED');
    const nothing = findMessageMedia({ attachments: [], embeds: [{}] }, DEFAULT_HOSTS);
    expect('refusal' in nothing && nothing.refusal.code).toBe('NO_MEDIA_IN_MESSAGE');
    const onlyPdf = findMessageMedia({ attachments: [attachment('doc.pdf', 'application/pdf')], embeds: [] }, DEFAULT_HOSTS);
    expect('refusal' in onlyPdf && onlyPdf.refusal.code).toBe('UNSUPPORTED_MEDIA');
  });

  it("looks into a forwarded message's snapshots, after the message's own files", () => {
    const forwarded = findMessageMedia({ attachments: [], embeds: [], snapshots: [{ attachments: [attachment('cat.png', 'image/png')], embeds: [] }] }, DEFAULT_HOSTS);
    expect(forwarded).toMatchObject({ media: { name: 'cat.png', trusted: true } });
    const own = findMessageMedia(
      { attachments: [attachment('mine.jpg', 'image/jpeg')], embeds: [], snapshots: [{ attachments: [attachment('cat.png', 'image/png')], embeds: [] }] },
      DEFAULT_HOSTS,
    );
    expect(own).toMatchObject({ media: { name: 'mine.jpg' } });
    const embed = findMessageMedia({ attachments: [], embeds: [], snapshots: [{ attachments: [], embeds: [{ image: { url: 'https://media.discordapp.net/attachments/1/2/x.png' } }] }] }, DEFAULT_HOSTS);
    expect(embed).toMatchObject({ media: { name: 'x.png', trusted: false } });
  });

  it('marks spoilers by the SPOILER_ name or the spoiler flag', () => {
    expect(fromAttachment(attachment('SPOILER_a.png', 'image/png'))).toMatchObject({ media: { spoiler: true } });
    expect(fromAttachment({ ...attachment('a.png', 'image/png'), spoiler: true })).toMatchObject({ media: { spoiler: true } });
    expect(fromAttachment(attachment('a.png', 'image/png'))).toMatchObject({ media: { spoiler: false } });
  });

  it('reads the expiry of signed CDN URLs (ex, hex seconds)', () => {
    const at = (seconds: number) => `https://cdn.discordapp.com/attachments/1/2/a.png?ex=${seconds.toString(16)}&is=0&hm=abc&`;
    const now = 1_700_000_000_000;
    expect(isExpiredMediaUrl(at(now / 1000 - 1), now)).toBe(true);
    expect(isExpiredMediaUrl(at(now / 1000 + 60), now)).toBe(false);
    expect(isExpiredMediaUrl('https://cdn.discordapp.com/attachments/1/2/a.png', now)).toBe(false);
    expect(isExpiredMediaUrl('https://cdn.discordapp.com/a.png?ex=zz', now)).toBe(false);
  });

  it('guesses the kind from the content type or name when the bytes say nothing', () => {
    expect(declaredKind({ url: '', name: 'a.gif', trusted: true })).toBe('gif');
    expect(declaredKind({ url: '', name: 'a', contentType: 'video/webm', trusted: true })).toBe('video');
    expect(declaredKind({ url: '', name: 'a.jpg', contentType: 'image/jpeg', trusted: true })).toBe('image');
  });
});
