package ordersdemo

// Product is one article of the catalogue. Price is in whole currency units
// so that sums of order totals stay exact in a float64 (up to 2^53).
type Product struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price int64  `json:"price"`
}

// DefaultCatalogue returns the demo's fixed catalogue: the watches of the
// workshop's retail store, under the product IDs seen in the workshop's
// sample scrape. It returns a fresh slice on every call.
func DefaultCatalogue() []Product {
	return []Product{
		{ID: "510a0d7e-8e83-4193-b483-e27e09ddc34d", Name: "Gentleman", Price: 795},
		{ID: "808a2de1-1aaa-4c25-a9b9-6612e8f29a38", Name: "Chronograf Classic", Price: 120},
		{ID: "6d62d909-f957-430e-8689-b5129c0bb75e", Name: "Pocket Watch", Price: 109},
		{ID: "a0a4f044-b040-410d-8ead-4de0446aec7e", Name: "Wood Watch", Price: 50},
	}
}
