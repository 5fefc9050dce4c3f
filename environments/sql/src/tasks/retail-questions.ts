import { fullName as name, lit, monthName, personIs, type QuestionTemplate, type TemplateParams } from './template.ts';

const CUSTOMER = (p: TemplateParams) => personIs(p, 'c');
const CUSTOMERS_WITH_ORDERS =
  'SELECT DISTINCT c.first_name, c.last_name FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY c.id';
const YEARS = "SELECT DISTINCT strftime('%Y', order_date) AS year FROM orders ORDER BY year";
const SOLD = "JOIN orders o ON o.id = oi.order_id AND o.status <> 'cancelled'";

export const RETAIL_TEMPLATES: QuestionTemplate[] = [
  {
    id: 'customer-email',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT first_name, last_name FROM customers ORDER BY id',
    sql: (p) => `SELECT email FROM customers c WHERE ${CUSTOMER(p)}`,
    phrasings: [
      (p) => `What is the email address of ${name(p)}?`,
      (p) => `Find ${name(p)}'s email.`,
      (p) => `Which email address does the customer ${name(p)} have?`,
      (p) => `Look up the contact email of ${name(p)}.`,
    ],
  },
  {
    id: 'product-price',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT name FROM products ORDER BY id',
    sql: (p) => `SELECT price FROM products WHERE name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `How much does the "${p.name}" cost?`,
      (p) => `What is the list price of the product "${p.name}"?`,
      (p) => `Give the current price of "${p.name}".`,
      (p) => `What does the shop charge for the "${p.name}"?`,
    ],
  },
  {
    id: 'customers-by-country-tier',
    difficulty: 'easy',
    skill: 'single-table',
    params:
      'SELECT DISTINCT country, loyalty_tier AS tier FROM customers WHERE loyalty_tier IS NOT NULL ORDER BY country, tier',
    sql: (p) =>
      `SELECT first_name, last_name FROM customers WHERE country = ${lit(p.country!)} AND loyalty_tier = ${lit(p.tier!)}`,
    phrasings: [
      (p) => `List the first and last names of customers from ${p.country} in the ${p.tier} loyalty tier.`,
      (p) => `Which ${p.tier}-tier customers live in ${p.country}? Give first and last names.`,
      (p) => `Name the customers (first and last name) in ${p.country} whose loyalty tier is ${p.tier}.`,
      (p) =>
        `Who are the ${p.tier} members of the loyalty programme living in ${p.country}? First and last names.`,
    ],
  },
  {
    id: 'not-enrolled-count',
    difficulty: 'easy',
    skill: 'dates-and-nulls',
    params: 'SELECT DISTINCT country FROM customers ORDER BY country',
    sql: (p) => `SELECT COUNT(*) FROM customers WHERE country = ${lit(p.country!)} AND loyalty_tier IS NULL`,
    phrasings: [
      (p) => `How many customers from ${p.country} are not enrolled in the loyalty programme?`,
      (p) => `Count the ${p.country} customers without a loyalty tier.`,
      (p) => `How many customers living in ${p.country} have no loyalty tier recorded?`,
      (p) => `What number of ${p.country} customers never joined the loyalty programme?`,
    ],
  },
  {
    id: 'signups-in-year',
    difficulty: 'easy',
    skill: 'dates-and-nulls',
    params:
      "SELECT DISTINCT strftime('%Y', signup_date) AS year, country FROM customers ORDER BY year, country",
    sql: (p) =>
      `SELECT COUNT(*) FROM customers WHERE strftime('%Y', signup_date) = ${lit(p.year!)} AND country = ${lit(p.country!)}`,
    phrasings: [
      (p) => `How many customers from ${p.country} signed up in ${p.year}?`,
      (p) => `Count the ${p.country} customers whose signup date falls in ${p.year}.`,
      (p) => `In ${p.year}, how many new customers from ${p.country} registered?`,
      (p) => `What number of customers in ${p.country} joined the shop during ${p.year}?`,
    ],
  },
  {
    id: 'category-by-price',
    difficulty: 'easy',
    skill: 'ordering',
    params: 'SELECT DISTINCT category FROM products ORDER BY category',
    sql: (p) => `SELECT name, price FROM products WHERE category = ${lit(p.category!)} ORDER BY price, name`,
    phrasings: [
      (p) => `List the products in the ${p.category} category with their prices, cheapest first.`,
      (p) => `Show name and price of every ${p.category} product in ascending order of price.`,
      (p) =>
        `Give the ${p.category} products and their prices, sorted from lowest to highest price (ties by name).`,
      (p) => `What do the ${p.category} products cost? Name and price, cheapest first.`,
    ],
  },
  {
    id: 'low-stock',
    difficulty: 'easy',
    skill: 'single-table',
    params:
      'SELECT DISTINCT category, n FROM products, (SELECT 100 AS n UNION ALL SELECT 250) ORDER BY category, n',
    sql: (p) =>
      `SELECT name FROM products WHERE category = ${lit(p.category!)} AND stock < ${p.n} AND discontinued = 0`,
    phrasings: [
      (p) => `Which ${p.category} products that are still sold have fewer than ${p.n} units in stock?`,
      (p) => `List the ${p.category} products, not discontinued, with a stock below ${p.n}.`,
      (p) => `Name the active ${p.category} items whose warehouse stock is under ${p.n} units.`,
      (p) => `Among ${p.category} products still on sale, which have less than ${p.n} in stock?`,
    ],
  },
  {
    id: 'order-count-of-customer',
    difficulty: 'medium',
    skill: 'join',
    params: CUSTOMERS_WITH_ORDERS,
    sql: (p) => `SELECT COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE ${CUSTOMER(p)}`,
    phrasings: [
      (p) => `How many orders has ${name(p)} placed?`,
      (p) => `Count the orders of the customer ${name(p)}.`,
      (p) => `What is the number of orders made by ${name(p)}?`,
      (p) => `How often has ${name(p)} ordered from the shop?`,
    ],
  },
  {
    id: 'orders-in-month',
    difficulty: 'medium',
    skill: 'dates-and-nulls',
    params: "SELECT DISTINCT strftime('%Y-%m', order_date) AS month FROM orders ORDER BY month",
    sql: (p) => `SELECT COUNT(*) FROM orders WHERE strftime('%Y-%m', order_date) = ${lit(p.month!)}`,
    phrasings: [
      (p) => `How many orders were placed in ${monthName(p.month!)}?`,
      (p) => `Count the orders from ${monthName(p.month!)}.`,
      (p) => `What was the number of orders in ${monthName(p.month!)}?`,
      (p) => `During ${monthName(p.month!)}, how many orders came in?`,
    ],
  },
  {
    id: 'status-in-year',
    difficulty: 'medium',
    skill: 'aggregation',
    params: `SELECT DISTINCT status, strftime('%Y', order_date) AS year FROM orders ORDER BY status, year`,
    sql: (p) =>
      `SELECT COUNT(*) FROM orders WHERE status = ${lit(p.status!)} AND strftime('%Y', order_date) = ${lit(p.year!)}`,
    phrasings: [
      (p) => `How many orders placed in ${p.year} have the status '${p.status}'?`,
      (p) => `Count the ${p.year} orders whose status is ${p.status}.`,
      (p) => `Of the orders from ${p.year}, how many are ${p.status}?`,
      (p) => `What number of orders made in ${p.year} currently stand at status '${p.status}'?`,
    ],
  },
  {
    id: 'unshipped-of-customer',
    difficulty: 'medium',
    skill: 'dates-and-nulls',
    params: CUSTOMERS_WITH_ORDERS,
    sql: (p) =>
      `SELECT o.id, o.status FROM orders o JOIN customers c ON c.id = o.customer_id WHERE ${CUSTOMER(p)} AND o.shipped_date IS NULL`,
    phrasings: [
      (p) => `Which orders of ${name(p)} have no shipping date? Give order id and status.`,
      (p) => `List id and status of ${name(p)}'s orders that were never shipped.`,
      (p) => `For ${name(p)}, which orders lack a shipped date? Order id and status, please.`,
      (p) => `Show the unshipped orders (id, status) of the customer ${name(p)}.`,
    ],
  },
  {
    id: 'most-expensive-in-category',
    difficulty: 'medium',
    skill: 'nesting',
    params: 'SELECT DISTINCT category FROM products ORDER BY category',
    sql: (p) =>
      `SELECT name FROM products WHERE category = ${lit(p.category!)} AND price = (SELECT MAX(price) FROM products WHERE category = ${lit(p.category!)})`,
    phrasings: [
      (p) => `What is the most expensive product in the ${p.category} category?`,
      (p) => `Which ${p.category} product has the highest list price?`,
      (p) => `Name the priciest item of the ${p.category} category.`,
      (p) => `In ${p.category}, which product costs the most?`,
    ],
  },
  {
    id: 'customer-order-sequence',
    difficulty: 'medium',
    skill: 'window',
    params: CUSTOMERS_WITH_ORDERS,
    sql: (p) =>
      `SELECT o.id, o.order_date, ROW_NUMBER() OVER (PARTITION BY o.customer_id ORDER BY o.order_date, o.id) AS nth FROM orders o JOIN customers c ON c.id = o.customer_id WHERE ${CUSTOMER(p)}`,
    phrasings: [
      (p) =>
        `Number the orders of ${name(p)} in the order they were placed (1 = first; same day by order id): give order id, date and number.`,
      (p) =>
        `For each order of ${name(p)}, give its id, its date and whether it was their 1st, 2nd, … order (ties on a date broken by id).`,
      (p) =>
        `List ${name(p)}'s orders with id, order date and sequence number counting from 1 by date, then id.`,
      (p) =>
        `Give every order of the customer ${name(p)} with its date and its position in their order history (earliest = 1, same-day orders by id).`,
    ],
  },
  {
    id: 'days-between-orders',
    difficulty: 'hard',
    skill: 'window',
    params:
      'SELECT c.first_name, c.last_name FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id HAVING COUNT(*) >= 2 ORDER BY c.id',
    sql: (p) =>
      `SELECT o.id, julianday(o.order_date) - julianday(LAG(o.order_date) OVER (ORDER BY o.order_date, o.id)) AS days FROM orders o JOIN customers c ON c.id = o.customer_id WHERE ${CUSTOMER(p)}`,
    phrasings: [
      (p) =>
        `For each order of ${name(p)}, how many days passed since their previous order? Give order id and days (empty for the first; orders of one day by id).`,
      (p) =>
        `List ${name(p)}'s orders by id with the gap in days to the order before it (none for the first; same-day orders ordered by id).`,
      (p) =>
        `How long did ${name(p)} wait between consecutive orders? Order id and days since the previous order (NULL for the first, same-day orders by id).`,
      (p) =>
        `Give each order id of ${name(p)} together with the number of days since that customer's preceding order, taking orders by date then id.`,
    ],
  },
  {
    id: 'customer-spend',
    difficulty: 'hard',
    skill: 'aggregation',
    params: CUSTOMERS_WITH_ORDERS,
    sql: (p) =>
      `SELECT ROUND(SUM(oi.quantity * oi.unit_price), 2) FROM order_items oi JOIN orders o ON o.id = oi.order_id JOIN customers c ON c.id = o.customer_id WHERE ${CUSTOMER(p)} AND o.status = 'delivered'`,
    phrasings: [
      (p) => `How much has ${name(p)} spent on delivered orders in total (rounded to cents)?`,
      (p) => `What is the total value of ${name(p)}'s delivered orders, to 2 decimals?`,
      (p) => `Sum quantity times unit price over the delivered orders of ${name(p)}; round to cents.`,
      (p) => `Give ${name(p)}'s total spend on orders with status delivered, rounded to 2 decimals.`,
    ],
  },
  {
    id: 'revenue-by-category',
    difficulty: 'hard',
    skill: 'aggregation',
    params: YEARS,
    sql: (p) =>
      `SELECT p.category, ROUND(SUM(oi.quantity * oi.unit_price), 2) AS revenue FROM order_items oi ${SOLD} JOIN products p ON p.id = oi.product_id WHERE strftime('%Y', o.order_date) = ${lit(p.year!)} GROUP BY p.category ORDER BY revenue DESC, p.category`,
    phrasings: [
      (p) =>
        `What was the revenue per product category in ${p.year} (excluding cancelled orders), highest first? Round to cents.`,
      (p) =>
        `For ${p.year}, give each category with its revenue from orders that were not cancelled, sorted by revenue descending (2 decimals).`,
      (p) =>
        `Rank the product categories by ${p.year} sales value, ignoring cancelled orders: category and revenue rounded to cents, biggest first, ties by category.`,
      (p) =>
        `How much did each category earn in ${p.year}? Leave out cancelled orders; round to 2 decimals and list the highest first.`,
    ],
  },
  {
    id: 'top-products-by-units',
    difficulty: 'hard',
    skill: 'ordering',
    params:
      'SELECT DISTINCT category, k FROM products, (SELECT 2 AS k UNION ALL SELECT 3) ORDER BY category, k',
    sql: (p) =>
      `SELECT p.name, SUM(oi.quantity) AS units FROM order_items oi ${SOLD} JOIN products p ON p.id = oi.product_id WHERE p.category = ${lit(p.category!)} GROUP BY p.id ORDER BY units DESC, p.name LIMIT ${p.k}`,
    phrasings: [
      (p) =>
        `Which ${p.k} products of the ${p.category} category sold the most units (ignoring cancelled orders)? Give name and units, most first, ties by name.`,
      (p) =>
        `List the top ${p.k} ${p.category} products by units sold outside cancelled orders, with the units, highest first (ties by name).`,
      (p) =>
        `Name the ${p.k} best-selling ${p.category} products by quantity, not counting cancelled orders, with their unit totals in descending order.`,
      (p) =>
        `By units sold (cancelled orders excluded), what are the ${p.k} leading products of ${p.category}? Name and units, most first, then by name.`,
    ],
  },
  {
    id: 'never-bought-category',
    difficulty: 'hard',
    skill: 'nesting',
    params:
      'SELECT DISTINCT c.country, p.category FROM customers c, products p ORDER BY c.country, p.category',
    sql: (p) =>
      `SELECT first_name, last_name FROM customers WHERE country = ${lit(p.country!)} AND id NOT IN (SELECT o.customer_id FROM orders o JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id WHERE p.category = ${lit(p.category!)})`,
    phrasings: [
      (p) =>
        `Which customers from ${p.country} have never ordered a ${p.category} product? First and last names.`,
      (p) => `List the ${p.country} customers with no ${p.category} item in any of their orders.`,
      (p) =>
        `Name the customers living in ${p.country} who never bought anything from the ${p.category} category.`,
      (p) => `Who in ${p.country} has not once ordered from ${p.category}? Give first and last name.`,
    ],
  },
  {
    id: 'shipping-days',
    difficulty: 'hard',
    skill: 'dates-and-nulls',
    params: `SELECT DISTINCT c.country, strftime('%Y', o.order_date) AS year FROM orders o JOIN customers c ON c.id = o.customer_id ORDER BY c.country, year`,
    sql: (p) =>
      `SELECT ROUND(AVG(julianday(o.shipped_date) - julianday(o.order_date)), 2) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.country = ${lit(p.country!)} AND strftime('%Y', o.order_date) = ${lit(p.year!)} AND o.shipped_date IS NOT NULL`,
    phrasings: [
      (p) =>
        `On average, how many days passed between order and shipping for ${p.year} orders of customers in ${p.country}? Round to 2 decimals.`,
      (p) =>
        `What was the mean number of days from order date to shipped date for shipped ${p.year} orders by ${p.country} customers (2 decimals)?`,
      (p) =>
        `For customers in ${p.country}, how long did ${p.year} orders take to ship on average, in days rounded to 2 decimals?`,
      (p) =>
        `Average the order-to-shipping time in days over the shipped ${p.year} orders of ${p.country} customers; round to 2 decimals.`,
    ],
  },
  {
    id: 'items-per-order-by-country',
    difficulty: 'hard',
    skill: 'nesting',
    params: 'SELECT DISTINCT country FROM customers ORDER BY country',
    sql: (p) =>
      `SELECT ROUND(AVG(n), 2) FROM (SELECT o.id, SUM(oi.quantity) AS n FROM orders o JOIN order_items oi ON oi.order_id = o.id JOIN customers c ON c.id = o.customer_id WHERE c.country = ${lit(p.country!)} GROUP BY o.id)`,
    phrasings: [
      (p) =>
        `What is the average number of units per order for customers from ${p.country}, rounded to 2 decimals?`,
      (p) =>
        `On average, how many units does an order of a ${p.country} customer contain? Round to 2 decimals.`,
      (p) => `Compute total units per order for ${p.country} customers, then average them (2 decimals).`,
      (p) =>
        `How big is the typical order from ${p.country} in units, as the mean per order rounded to 2 decimals?`,
    ],
  },
  {
    id: 'buyers-of-product',
    difficulty: 'medium',
    skill: 'multi-join',
    params: 'SELECT name FROM products ORDER BY id',
    sql: (p) =>
      `SELECT DISTINCT c.first_name, c.last_name FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id WHERE p.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `Which customers ordered the "${p.name}"? Give first and last names.`,
      (p) => `List the first and last names of everyone who has bought "${p.name}".`,
      (p) => `Who has the "${p.name}" in one of their orders? First and last name, each customer once.`,
      (p) => `Name the customers with at least one order containing the product "${p.name}".`,
    ],
  },
  {
    id: 'category-buyers-in-country',
    difficulty: 'hard',
    skill: 'multi-join',
    params:
      'SELECT DISTINCT c.country, p.category FROM customers c, products p ORDER BY c.country, p.category',
    sql: (p) =>
      `SELECT COUNT(DISTINCT c.id) FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id WHERE c.country = ${lit(p.country!)} AND p.category = ${lit(p.category!)}`,
    phrasings: [
      (p) => `How many different customers from ${p.country} have bought a ${p.category} product?`,
      (p) =>
        `Count the distinct ${p.country} customers with at least one ${p.category} item in their orders.`,
      (p) =>
        `What number of customers living in ${p.country} ever ordered something from the ${p.category} category?`,
      (p) =>
        `Among customers in ${p.country}, how many have purchased ${p.category} products (count each customer once)?`,
    ],
  },
  {
    id: 'categories-of-customer',
    difficulty: 'hard',
    skill: 'multi-join',
    params: CUSTOMERS_WITH_ORDERS,
    sql: (p) =>
      `SELECT p.category, SUM(oi.quantity) AS units FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id WHERE ${CUSTOMER(p)} GROUP BY p.category`,
    phrasings: [
      (p) => `From which product categories has ${name(p)} ordered, and how many units of each?`,
      (p) => `For ${name(p)}, give each category they bought from and the total units.`,
      (p) => `List the categories in ${name(p)}'s orders with the number of units per category.`,
      (p) => `How many units per product category has ${name(p)} ordered? Category and units.`,
    ],
  },
  {
    id: 'running-monthly-revenue',
    difficulty: 'hard',
    skill: 'window',
    params: YEARS,
    sql: (p) =>
      `SELECT month, ROUND(revenue, 2), ROUND(SUM(revenue) OVER (ORDER BY month), 2) FROM (SELECT strftime('%Y-%m', o.order_date) AS month, SUM(oi.quantity * oi.unit_price) AS revenue FROM order_items oi ${SOLD} WHERE strftime('%Y', o.order_date) = ${lit(p.year!)} GROUP BY month)`,
    phrasings: [
      (p) =>
        `For each month of ${p.year}, give the revenue of orders not cancelled and the running total since January (both rounded to cents).`,
      (p) =>
        `Month by month in ${p.year}: revenue excluding cancelled orders, and the cumulative revenue so far, each to 2 decimals.`,
      (p) =>
        `List the months of ${p.year} ('YYYY-MM') with their sales value (no cancelled orders) and the year-to-date total, rounded to cents.`,
      (p) =>
        `What was the monthly revenue in ${p.year}, cancelled orders left out, and how did it accumulate? Month, revenue, running total (2 decimals).`,
    ],
  },
  {
    id: 'top-spender-per-country',
    difficulty: 'hard',
    skill: 'window',
    params: YEARS,
    sql: (p) =>
      `SELECT country, first_name, last_name, spend FROM (SELECT c.country, c.first_name, c.last_name, ROUND(SUM(oi.quantity * oi.unit_price), 2) AS spend, ROW_NUMBER() OVER (PARTITION BY c.country ORDER BY SUM(oi.quantity * oi.unit_price) DESC, c.id) AS rn FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items oi ON oi.order_id = o.id WHERE o.status = 'delivered' AND strftime('%Y', o.order_date) = ${lit(p.year!)} GROUP BY c.id) WHERE rn = 1`,
    phrasings: [
      (p) =>
        `For each country, which customer spent the most on delivered orders placed in ${p.year}? Give country, first and last name, and the amount rounded to cents (ties: lowest customer id).`,
      (p) =>
        `Name the top spender of every country in ${p.year}, counting delivered orders only: country, first name, last name, spend (2 decimals).`,
      (p) =>
        `Per country, who had the highest total of delivered ${p.year} orders? Country, names and the total rounded to cents; on a tie take the customer with the lower id.`,
      (p) =>
        `Find each country's biggest customer of ${p.year} by value of delivered orders, with the value rounded to 2 decimals.`,
    ],
  },
];
