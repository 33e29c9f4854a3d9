-- The plain purchase as one server-side call (PostgreSQL): the same seven statements.
CREATE FUNCTION plain_purchase(m bigint, mem bigint, k text, total bigint, spend bigint,
                               earn bigint, member_points bigint, member_growth bigint,
                               redeemed bigint, issued bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    o bigint;
    e bigint;
BEGIN
    INSERT INTO plain_idempotency VALUES (m, k, md5(k)) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN RETURN NULL; END IF;
    INSERT INTO plain_orders (merchant_id, member_id, external_id, total_minor)
        VALUES (m, mem, k, total) RETURNING id INTO o;
    UPDATE plain_accounts SET balance = balance + CASE id WHEN member_points THEN earn - spend
        ELSE earn END WHERE id IN (member_points, member_growth) AND balance >= spend;
    IF NOT FOUND THEN RAISE EXCEPTION 'insufficient balance'; END IF;
    UPDATE plain_accounts SET balance = balance + CASE id WHEN redeemed THEN spend
        ELSE -2 * earn END WHERE id IN (redeemed, issued);
    INSERT INTO plain_entries (merchant_id, reason, order_id) VALUES (m, 'purchase', o)
        RETURNING id INTO e;
    INSERT INTO plain_postings (merchant_id, entry_id, account_id, amount) VALUES
        (m, e, member_points, earn - spend), (m, e, member_growth, earn),
        (m, e, redeemed, spend), (m, e, issued, -2 * earn);
    INSERT INTO plain_outbox (merchant_id, type, payload)
        VALUES (m, 'checkout.committed', json_build_object('order_id', o, 'total', total)::text);
    RETURN o;
END $$
