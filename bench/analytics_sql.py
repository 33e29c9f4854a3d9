"""Hand-written DuckDB SQL for the suite metrics beyond the five heavy ones in
``bench/analytics.py`` (same definitions as docs/analytics.md, window 2024-01-01..2026-01-01,
months, merchant 1): together they are the whole ``compute_suite`` done by hand."""

from __future__ import annotations

W = "placed_local >= DATE '2024-01-01' AND placed_local < DATE '2026-01-01'"
P = (
    "(SELECT id AS order_id, member_id, placed_local, total_minor - refunded_minor AS net "
    "FROM orders WHERE merchant_id = 1 AND status NOT IN ('refunded', 'cancelled'))"
)
M = "year({c}) * 12 + month({c}) - 1"
LEDGER = """(SELECT a.code account_code, a.member_id, p.asset, p.amount, e.occurred_local
  FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
  JOIN journal_entries e ON e.id = p.entry_id WHERE p.merchant_id = 1)"""

# Each member's chain of stages (docs/analytics.md, funnel): the stage it started in, then each
# move's ``to_stage``; ``prev`` is the stage before.
STAGE_CHAIN = """mv AS (SELECT * FROM funnel_transitions WHERE merchant_id = 1),
fm AS (SELECT member_id, from_stage, moved_local FROM (SELECT *, row_number() OVER (
         PARTITION BY member_id ORDER BY moved_local, id) n FROM mv) WHERE n = 1),
ev AS (SELECT m.id member_id, CASE WHEN fm.moved_local < m.created_local THEN fm.moved_local
         ELSE m.created_local END ts, 0 seq,
         CASE WHEN fm.member_id IS NOT NULL THEN fm.from_stage ELSE m.funnel_stage END stage
       FROM members m LEFT JOIN fm ON fm.member_id = m.id WHERE m.merchant_id = 1
       UNION ALL SELECT member_id, moved_local, id, to_stage FROM mv),
ch AS (SELECT *, lag(stage) OVER (PARTITION BY member_id ORDER BY ts, seq) prev FROM ev
       WHERE stage IS NOT NULL AND ts < DATE '2026-01-01')"""

MORE_SQL = {
    "window_summary": f"""
WITH p AS (SELECT * FROM {P} WHERE {W}),
f AS (SELECT member_id, min(placed_local) fp FROM {P} WHERE member_id IS NOT NULL GROUP BY 1),
per AS (SELECT member_id, count(*) n, sum(net) rev, any_value(fp) >= DATE '2024-01-01' is_new
        FROM p JOIN f USING (member_id) GROUP BY 1)
SELECT (SELECT count(*) FROM p), count(*), sum(is_new::INT), count(*) - sum(is_new::INT),
  (SELECT sum(net) FROM p), (SELECT sum(net) / count(*) FROM p), sum(n) / count(*),
  sum((n >= 2)::INT) / count(*), sum(CASE WHEN is_new THEN 0 ELSE rev END) / sum(rev)
FROM per""",
    "pareto_curve": f"""
WITH r AS (SELECT member_id, sum(net) rev FROM {P} WHERE {W} AND member_id IS NOT NULL
           GROUP BY 1),
k AS (SELECT rev, row_number() OVER (ORDER BY rev DESC, member_id) pos, count(*) OVER () n
      FROM r),
d AS (SELECT (pos * 10 + n - 1) // n decile, sum(rev) rev FROM k GROUP BY 1)
SELECT decile, rev, sum(rev) OVER (ORDER BY decile) / sum(rev) OVER () FROM d ORDER BY 1""",
    "members_vs_non_members": f"""
SELECT CASE WHEN m.registered_local <= p.placed_local THEN 'member' ELSE 'non_member' END g,
  count(*), count(p.member_id), count(DISTINCT p.member_id), sum(net),
  count(p.member_id) / count(DISTINCT p.member_id), sum(net) / count(*)
FROM {P} p LEFT JOIN members m ON m.id = p.member_id AND m.merchant_id = 1
WHERE {W} GROUP BY 1 ORDER BY 1""",
    "dau_mau": f"""
WITH a AS (SELECT member_id, placed_local ts FROM {P} WHERE {W} AND member_id IS NOT NULL
           UNION ALL SELECT member_id, visited_local FROM portal_visits
           WHERE merchant_id = 1 AND visited_local >= DATE '2024-01-01'
             AND visited_local < DATE '2026-01-01'
           UNION ALL SELECT member_id, occurred_local FROM message_activity
           WHERE merchant_id = 1 AND occurred_local >= DATE '2024-01-01'
             AND occurred_local < DATE '2026-01-01')
SELECT 'day', ts::DATE::VARCHAR, count(DISTINCT member_id) FROM a GROUP BY 2
UNION ALL SELECT 'month', ({M.format(c="ts")})::VARCHAR, count(DISTINCT member_id) FROM a
GROUP BY 2""",
    "portal_conversion": f"""
WITH v AS (SELECT member_id, {M.format(c="visited_local")} m, min(visited_local) fv
           FROM portal_visits WHERE merchant_id = 1 AND visited_local >= DATE '2024-01-01'
             AND visited_local < DATE '2026-01-01' GROUP BY 1, 2),
b AS (SELECT v.m, v.member_id, bool_or(p.order_id IS NOT NULL) bought FROM v
      LEFT JOIN (SELECT *, {M.format(c="placed_local")} m FROM {P} WHERE {W}) p
        ON p.member_id = v.member_id AND p.m = v.m AND p.placed_local >= v.fv GROUP BY 1, 2)
SELECT m, count(*), sum(bought::INT), sum(bought::INT) / count(*) FROM b GROUP BY 1 ORDER BY 1""",
    "funnel_counts": f"""
WITH {STAGE_CHAIN},
d AS (SELECT greatest({M.format(c="ts")}, 24287) m, stage, 1 n FROM ch
      UNION ALL SELECT greatest({M.format(c="ts")}, 24287), prev, -1 FROM ch
      WHERE prev IS NOT NULL)
SELECT m, stage, sum(sum(n)) OVER (PARTITION BY stage ORDER BY m) FROM d GROUP BY 1, 2
ORDER BY 1, 2""",
    "funnel_conversion": f"""
WITH {STAGE_CHAIN},
w AS (SELECT *, {M.format(c="ts")} m FROM ch WHERE ts >= DATE '2024-01-01'),
r AS (SELECT *, row_number() OVER (PARTITION BY member_id, m ORDER BY ts, seq) a,
        row_number() OVER (PARTITION BY member_id, m ORDER BY ts DESC, seq DESC) z FROM w),
prog AS (SELECT f.m, f.prev s0, l.stage s1 FROM r f JOIN r l
         ON f.member_id = l.member_id AND f.m = l.m AND f.a = 1 AND l.z = 1
         WHERE f.prev IS NOT NULL),
rank AS (SELECT * FROM (VALUES ('user', 0), ('customer', 1), ('member', 2), ('fan', 3)) v(s, k))
SELECT m, s0, r1.s, count(*) FROM prog JOIN rank r0 ON r0.s = prog.s0
JOIN rank r1 ON r1.k = r0.k + 1 JOIN rank re ON re.s = prog.s1 WHERE re.k >= r1.k
GROUP BY 1, 2, 3 ORDER BY 1, 2""",
    "comparison": f"""
WITH p AS (SELECT * FROM {P}),
f AS (SELECT member_id, arg_min(order_id, (placed_local, order_id)) fo, min(placed_local) fp
      FROM p WHERE member_id IS NOT NULL GROUP BY 1),
s(k, a, b, ba, bb) AS (VALUES (0, DATE '2025-12-01', DATE '2026-01-01', DATE '2025-11-01',
                               DATE '2025-12-01'),
                              (1, DATE '2025-11-01', DATE '2025-12-01', DATE '2025-10-01',
                               DATE '2025-11-01')),
x AS (SELECT s.k, p.*, f.fo, f.fp >= s.a is_new FROM s JOIN p ON p.placed_local >= s.a
      AND p.placed_local < s.b LEFT JOIN f USING (member_id)),
o AS (SELECT k, count(*) orders, sum(net) rev,
        sum(CASE WHEN fo IS NOT NULL AND order_id <> fo THEN net ELSE 0 END) rep FROM x GROUP BY 1),
c AS (SELECT k, count(*) customers, sum((n >= 2)::INT) rc,
        sum(CASE WHEN is_new THEN 0 ELSE r END) / sum(r) ret FROM (
        SELECT k, member_id, count(*) n, sum(net) r, bool_or(is_new) is_new FROM x
        WHERE member_id IS NOT NULL GROUP BY 1, 2) GROUP BY 1),
base AS (SELECT DISTINCT s.k, p.member_id FROM s JOIN p ON p.member_id IS NOT NULL
         AND p.placed_local >= s.ba AND p.placed_local < s.bb),
came AS (SELECT DISTINCT k, member_id FROM x WHERE member_id IS NOT NULL),
rt AS (SELECT base.k, count(*) bc, count(came.member_id) rc FROM base
       LEFT JOIN came USING (k, member_id) GROUP BY 1),
act AS (SELECT s.k, count(DISTINCT a.member_id) active FROM s JOIN (
          SELECT member_id, placed_local t FROM p WHERE member_id IS NOT NULL
          UNION ALL SELECT member_id, visited_local FROM portal_visits WHERE merchant_id = 1
          UNION ALL SELECT member_id, occurred_local FROM message_activity
          WHERE merchant_id = 1) a ON a.t >= s.a AND a.t < s.b GROUP BY 1)
SELECT k, orders, customers, rev, rev / orders, c.rc / customers, ret, rep, rep / rev, bc,
  rt.rc, rt.rc / bc, active
FROM o JOIN c USING (k) JOIN rt USING (k) JOIN act USING (k) ORDER BY k""",
    "rfm_segments": f"""
WITH per AS (SELECT member_id, max(epoch(placed_local)::BIGINT // 86400) last_day, count(*) f,
    sum(net) m FROM {P} WHERE {W} AND member_id IS NOT NULL GROUP BY 1),
s AS (SELECT 1 + ((rank() OVER (ORDER BY last_day) - 1) * 5) // count(*) OVER () r,
   (1 + ((rank() OVER (ORDER BY f) - 1) * 5) // count(*) OVER ()
    + 1 + ((rank() OVER (ORDER BY m) - 1) * 5) // count(*) OVER ()) // 2 fm, m FROM per),
g AS (SELECT CASE WHEN r = 5 AND fm >= 4 THEN 'champions'
   WHEN r IN (3, 4) AND fm >= 4 THEN 'loyal' WHEN r >= 4 AND fm IN (2, 3) THEN 'potential_loyalist'
   WHEN r = 5 AND fm = 1 THEN 'new' WHEN r = 4 AND fm = 1 THEN 'promising'
   WHEN r = 3 AND fm = 3 THEN 'need_attention' WHEN r = 3 AND fm <= 2 THEN 'about_to_sleep'
   WHEN r <= 2 AND fm = 5 THEN 'cant_lose' WHEN r <= 2 AND fm IN (3, 4) THEN 'at_risk'
   WHEN r = 2 THEN 'hibernating' ELSE 'lost' END seg, m FROM s)
SELECT seg, count(*), sum(m), count(*) / sum(count(*)) OVER (), sum(m) / sum(sum(m)) OVER ()
FROM g GROUP BY 1 ORDER BY 1""",
    "points_and_liability": f"""
WITH l AS {LEDGER},
flows AS (SELECT {M.format(c="occurred_local")} m,
    -sum(CASE WHEN account_code = 'points_issued' THEN amount ELSE 0 END) issued,
    sum(CASE WHEN account_code = 'points_redeemed' THEN amount ELSE 0 END) redeemed,
    sum(CASE WHEN account_code = 'points_expired' THEN amount ELSE 0 END) expired
  FROM l WHERE member_id IS NULL
    AND account_code IN ('points_issued', 'points_redeemed', 'points_expired')
    AND occurred_local >= DATE '2024-01-01' AND occurred_local < DATE '2026-01-01' GROUP BY 1),
liab AS (SELECT greatest({M.format(c="occurred_local")}, 24287) m, asset, sum(amount) ch FROM l
  WHERE member_id IS NOT NULL AND asset IN ('points', 'stored_principal', 'stored_bonus')
    AND occurred_local < DATE '2026-01-01' GROUP BY 1, 2)
SELECT 'flow', m, issued, redeemed, expired, NULL FROM flows
UNION ALL SELECT 'breakage', NULL, NULL, sum(redeemed), sum(expired),
  sum(expired) / (sum(redeemed) + sum(expired)) FROM flows
UNION ALL SELECT asset, m, NULL, NULL, NULL, sum(ch) OVER (PARTITION BY asset ORDER BY m)
FROM liab""",
    "coupons_tiers_mall_payments": f"""
SELECT 'coupons', {M.format(c="issued_local")} m, count(*),
  sum((redeemed_local < DATE '2026-01-01')::INT),
  sum((redeemed_local < DATE '2026-01-01')::INT) / count(*), NULL
FROM coupon_codes WHERE merchant_id = 1 AND issued_local >= DATE '2024-01-01'
  AND issued_local < DATE '2026-01-01' GROUP BY 2
UNION ALL SELECT 'tiers', NULL, count(*), NULL, NULL, tier_code FROM member_tiers
  WHERE merchant_id = 1 GROUP BY tier_code
UNION ALL SELECT 'moves', {M.format(c="changed_local")}, count(*), NULL, NULL,
  coalesce(from_code, '') || '>' || to_code FROM tier_changes
  WHERE merchant_id = 1 AND changed_local >= DATE '2024-01-01'
    AND changed_local < DATE '2026-01-01' GROUP BY 2, 6
UNION ALL SELECT 'mall', {M.format(c="created_local")}, count(*), count(DISTINCT member_id),
  sum(points), NULL FROM mall_orders WHERE merchant_id = 1 AND status <> 'cancelled'
  AND created_local >= DATE '2024-01-01' AND created_local < DATE '2026-01-01' GROUP BY 2
UNION ALL SELECT 'pay', {M.format(c="created_local")}, count(*), sum(cash_minor),
  sum(points_value_minor), (sum(stored_principal_minor + stored_bonus_minor))::VARCHAR
FROM order_payments WHERE merchant_id = 1 AND created_local >= DATE '2024-01-01'
  AND created_local < DATE '2026-01-01' GROUP BY 2""",
}
