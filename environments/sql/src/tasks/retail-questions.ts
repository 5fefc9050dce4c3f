import { lit, monthName, type QuestionTemplate } from './template.ts';

const CUSTOMER = (p: Record<string, string | number>) =>
  `c.first_name = ${lit(p.first_name!)} AND c.last_name = ${lit(p.last_name!)}`;
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
      (p) => `What is the email address of ${p.first_name} ${p.last_name}?`,
      (p) => `Find ${p.first_name} ${p.last_name}'s email.`,
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
    ],
  },
  {
    id: 'not-enrolled-count',
    difficulty: 'easy',
    skill: 'dates-and-nulls',
    params: 'SELECT DISTINCT country FROM customers ORDER BY country',
    sql: (p) => `SELECT COUNT(*) FROM customers WHERE country = ${lit(p.country!)} AND loyalty_tier IS NULL`,
    phrasings: [(p) => `How many customers from ${p.country} are not enrolled in the loyalty programme?`],
  },
  {
    id: 'signups-in-year',
    difficulty: 'easy',
    skill: 'dates-and-nulls',
    params:
      "SELECT DISTINCT strftime('%Y', signup_date) AS year, country FROM customers ORDER BY year, country",
    sql: (p) =>
      `SELECT COUNT(*) FROM customers WHERE strftime('%Y', signup_date) = ${lit(p.year!)} AND country = ${lit(p.country!)}`,
    phrasings: [(p) => `How many customers from ${p.country} signed up in ${p.year}?`],
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
    ],
  },
  {
    id: 'order-count-of-customer',
    difficulty: 'medium',
    skill: 'join',
    params: CUSTOMERS_WITH_ORDERS,
    sql: (p) => `SELECT COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE ${CUSTOMER(p)}`,
    phrasings: [
      (p) => `How many orders has ${p.first_name} ${p.last_name} placed?`,
      (p) => `Count the orders of the customer ${p.first_name} ${p.last_name}.`,
    ],
  },
  {
    id: 'buyers-of-product',
    difficulty: 'medium',
    skill: 'join',
    params: 'SELECT name FROM products ORDER BY id',
    sql: (p) =>
      `SELECT DISTINCT c.first_name, c.last_name FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id WHERE p.name = ${lit(p.name!)}`,
    phrasings: [(p) => `Which customers ordered the "${p.name}"? Give first and last names.`],
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
    ],
  },
  {
    id: 'status-in-year',
    difficulty: 'medium',
    skill: 'aggregation',
    params: `SELECT DISTINCT status, strftime('%Y', order_date) AS year FROM orders ORDER BY status, year`,
    sql: (p) =>
      `SELECT COUNT(*) FROM orders WHERE status = ${lit(p.status!)} AND strftime('%Y', order_date) = ${lit(p.year!)}`,
    phrasings: [(p) => `How many orders placed in ${p.year} have the status '${p.status}'?`],
  },
  {
    id: 'unshipped-of-customer',
    difficulty: 'medium',
    skill: 'dates-and-nulls',
    params: CUSTOMERS_WITH_ORDERS,
    sql: (p) =>
      `SELECT o.id, o.status FROM orders o JOIN customers c ON c.id = o.customer_id WHERE ${CUSTOMER(p)} AND o.shipped_date IS NULL`,
    phrasings: [
      (p) =>
        `Which orders of ${p.first_name} ${p.last_name} have no shipping date? Give order id and status.`,
    ],
  },
  {
    id: 'most-expensive-in-category',
    difficulty: 'medium',
    skill: 'nesting',
    params: 'SELECT DISTINCT category FROM products ORDER BY category',
    sql: (p) =>
      `SELECT name FROM products WHERE category = ${lit(p.category!)} AND price = (SELECT MAX(price) FROM products WHERE category = ${lit(p.category!)})`,
    phrasings: [(p) => `What is the most expensive product in the ${p.category} category?`],
  },
  {
    id: 'customer-spend',
    difficulty: 'hard',
    skill: 'aggregation',
    params: CUSTOMERS_WITH_ORDERS,
    sql: (p) =>
      `SELECT ROUND(SUM(oi.quantity * oi.unit_price), 2) FROM order_items oi JOIN orders o ON o.id = oi.order_id JOIN customers c ON c.id = o.customer_id WHERE ${CUSTOMER(p)} AND o.status = 'delivered'`,
    phrasings: [
      (p) =>
        `How much has ${p.first_name} ${p.last_name} spent on delivered orders in total (rounded to cents)?`,
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
    ],
  },
  {
    id: 'never-ordered',
    difficulty: 'hard',
    skill: 'nesting',
    params: 'SELECT DISTINCT country FROM customers ORDER BY country',
    sql: (p) =>
      `SELECT first_name, last_name FROM customers WHERE country = ${lit(p.country!)} AND id NOT IN (SELECT customer_id FROM orders)`,
    phrasings: [(p) => `Which customers from ${p.country} have never placed an order?`],
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
    ],
  },
];
