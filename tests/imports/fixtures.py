"""Realistic Shopify export files, written here so every test shows what it feeds in."""

from __future__ import annotations

SHOPIFY_CUSTOMERS = """\
Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,\
Default Address Address1,Default Address Address2,Default Address City,\
Default Address Province Code,Default Address Country Code,Default Address Zip,\
Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,Tax Exempt,Tags,\
Loyalty Color
'7001,Mei,Chen,mei.chen@example.com,yes,,1 Nanjing Rd,,Shanghai,SH,CN,200001,,'13812345678,yes,\
"1,280.00",3,"Likes oolong, prefers evening calls",no,"vip, oolong",green
'7002,Tom,Baker,tom@example.co.uk,no,Baker Ltd,10 High St,Flat 2,London,LND,GB,SW1A 1AA,\
'+44 20 7123 4567,,no,45.50,1,,no,,blue
'7003,Ana,Silva,not-an-email,yes,,,,,,,,,,no,0.00,0,,no,,
'7004,Raj,Patel,raj@example.in,yes,,,,,,,,,12345,no,0.00,0,,no,,
'7005,,,quiet@example.com,no,,,,,,,,,,no,0.00,0,,no,newsletter,
'7006,Ivy,Wong,ivy@example.hk,yes,,,,,,,,,,no,12.3.4,0,,no,,
"""
# Line 2 good (phone national CN), 3 good (GB phone from the address), 4 bad email,
# 5 bad phone, 6 good (no name), 7 malformed money in Total Spent.

SHOPIFY_CUSTOMERS_LEGACY = """\
First Name,Last Name,Email,Company,Address1,Address2,City,Province,Province Code,Country,\
Country Code,Zip,Phone,Accepts Marketing,Total Spent,Total Orders,Tags,Note,Tax Exempt
Lin,Zhao,lin.zhao@example.com,,8 Huaihai Rd,,Shanghai,Shanghai,SH,China,CN,200002,\
13900001111,true,99.00,1,regular,,false
"""

ORDERS_HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,"
    "Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,"
    "Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,"
    "Billing Name,Billing Phone,Notes,Cancelled at,Payment Method,Refunded Amount,Vendor,Id,"
    "Tags,Source,Lineitem discount,Phone,Location"
)


def order_row(
    name: str,
    *,
    email: str = "",
    status: str = "",
    discount: str = "",
    created: str = "",
    qty: str = "1",
    item: str = "Green tea 100g",
    price: str = "45.00",
    sku: str = "TEA-G100",
    refunded: str = "",
    cancelled: str = "",
    line_discount: str = "0.00",
    source: str = "",
    location: str = "",
    billing: str = "",
    first: bool = True,
) -> str:
    head = first
    return ",".join(
        [
            name,
            email if head else "",
            status if head else "",
            created if head and status != "pending" else "",
            "fulfilled" if head else "",
            "",
            "yes" if head else "",
            "CNY" if head else "",
            "",
            "10.00" if head else "",
            "0.00" if head else "",
            "",
            "",
            discount if head else "",
            "",
            created if head else "",
            qty,
            item,
            price,
            "",
            sku,
            "true",
            "true",
            "fulfilled",
            billing if head else "",
            "",
            "",
            cancelled if head else "",
            "Alipay" if head else "",
            refunded if head else "",
            "Tea Co",
            "5500001" + name[-2:] if head else "",
            "",
            source if head else "",
            line_discount,
            "",
            location if head else "",
        ]
    )


T1 = "2025-11-02 14:05:00 +0800"
SHOPIFY_ORDERS = (
    "\n".join(
        [
            ORDERS_HEADER,
            # #1001: two lines, 5.00 order discount, paid
            order_row(
                "#1001",
                email="mei.chen@example.com",
                status="paid",
                discount="5.00",
                created=T1,
                qty="2",
                billing="Mei Chen",
            ),
            order_row("#1001", qty="1", item="Tea cup", price="30.00", sku="CUP-1", first=False),
            # #1002: refunded in full
            order_row(
                "#1002", email="tom@example.co.uk", status="refunded", created=T1, refunded="45.00"
            ),
            # #1003: partially refunded, with a line discount
            order_row(
                "#1003",
                email="new.buyer@example.com",
                status="partially_refunded",
                created=T1,
                qty="3",
                refunded="20.00",
                line_discount="5.00",
                discount="5.00",
                billing="New Buyer",
            ),
            # #1004: voided (cancelled)
            order_row(
                "#1004", email="mei.chen@example.com", status="voided", created=T1, cancelled=T1
            ),
            # #1005: malformed money in its second line
            order_row("#1005", email="mei.chen@example.com", status="paid", created=T1),
            order_row("#1005", price="4x.00", first=False),
            # #1006: anonymous POS sale at the Main street store
            order_row("#1006", status="paid", created=T1, source="pos", location="Main street"),
        ]
    )
    + "\n"
)
