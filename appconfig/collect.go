package appconfig

import "strings"

// collector gathers the scalar settings of a nested document: path holds the
// names of the maps and list indexes above the current value.
type collector struct {
	file   string
	budget *budget
	path   []string
	out    []Setting
}

func newCollector(file string, input int) *collector {
	return &collector{file: file, budget: newBudget(input)}
}

// push enters a map value or list item; it fails past maxDepth.
func (c *collector) push(name string, line int) error {
	if len(c.path) >= maxDepth {
		return newError(c.file, line, "nested deeper than %d levels: flatten the file", maxDepth)
	}
	c.path = append(c.path, name)
	return nil
}

func (c *collector) pop() { c.path = c.path[:len(c.path)-1] }

// visit counts one node against the budget, so that aliases expanding to
// nothing still cost something.
func (c *collector) visit(line int) error {
	if !c.budget.spend(1) {
		return newError(c.file, line, "%s", errBudget)
	}
	return nil
}

// add records a scalar under the current path; scalars outside any map or
// list (a document that is one string) are not settings.
func (c *collector) add(s Setting) error {
	if len(c.path) == 0 {
		return nil
	}
	s.Name = strings.Join(c.path, ".")
	if !c.budget.spend(len(s.Name) + len(s.Value)) {
		return newError(c.file, s.Line, "%s", errBudget)
	}
	c.out = append(c.out, s)
	return nil
}
