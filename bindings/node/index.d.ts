// SPDX-License-Identifier: Apache-2.0
export type Purpose = 'message' | 'optout_confirm' | 'help_reply' | 'optin_confirm';
export type Reason = 'invalid_number' | 'sender_unregistered' | 'campaign_inactive' |
  'recipient_not_sms_capable' | 'opted_out' | 'no_consent' | 'confirmation_needs_writer' |
  'check_failed' | 'quiet_hours' | 'frequency_cap' | string;
export type Category = 'marketing' | 'informational' | 'transactional' | 'conversational';

export interface Verdict {
  readonly allow: boolean;
  readonly reason: Reason | null;          // null when allowed
  readonly scope: string | null;           // "sender", "group", "campaign", "brand", "global"
  readonly scopeId: string;
  readonly since: Date | null;
  readonly sinceUs: number;                // UTC microseconds, 0 if none
  readonly seq: number;
  readonly confirmation: boolean;
  // Set only by a check with category, at or campaign (sg_check_ex, as GET /v1/check):
  readonly category?: Category | null;     // the category the check resolved; null: none applied
  readonly region?: string;                // "US-FL" when a quiet-hours rule covers the number, else ""
  readonly tz?: string;                    // "America/New_York" (several: comma-separated), else ""
  readonly nextAllowedAt?: Date | null;    // quiet_hours / frequency_cap: the earliest instant allowed
  readonly nextAllowedUs?: number;         // the same in UTC microseconds, 0 if none
  readonly rule?: string;                  // quiet_hours / frequency_cap: the rule that decided, else ""
}

export interface Classification {
  intent: 'opt_out' | 'opt_in' | 'help' | 'none';
  confidence: 'exact' | 'phrase' | 'probable' | 'none';
  lang: string;
  rule: string;
  reply: string;
}

export interface EngineOptions {
  readonly?: boolean;      // default true
  create?: boolean;        // with readonly: false, make a store when none exists
  keywordsDir?: string;
  defaultCountry?: string;
  quietHoursDir?: string;  // the quiet-hours rules; default the installed set; "none": no quiet hours
}

export interface CheckOptions {
  purpose?: Purpose;
  category?: Category | 'none'; // default: the sender's campaign's usecase, else the policy's
  at?: Date | string;      // the instant the message would be sent (RFC 3339 with offset); default now
  campaign?: string;       // the frequency caps' subject; default the sender's campaign
}

/** Thrown errors carry the library's name and code. */
export interface StopgateError extends Error {
  code: string;            // "SG_ELOCKED", "SG_ENOSTORE", "EINVAL", "ERR_CLOSED", ...
  errno?: number;          // the negative code
}

export class Engine {
  constructor(dataDir: string, options?: EngineOptions);
  check(from: string, to: string, options?: Purpose | CheckOptions): Verdict;
  checkBatch(from: string, to: string[], options?: Purpose | CheckOptions): Verdict[];
  classify(text: string | Buffer, campaign?: string | null): Classification;
  normalize(number: string, country?: string | null, field?: 'any' | 'address' | 'number'): string;
  readonly readonly: boolean;
  readonly defaultCountry: string | null;
  close(): void;
}

export function normalize(number: string, country?: string | null, field?: 'any' | 'address' | 'number'): string;
export function countryOf(key: string): string | null;
export function version(): string;
export function strerror(code: number): string;
export const PURPOSES: readonly Purpose[];
export const CATEGORIES: readonly Category[];
