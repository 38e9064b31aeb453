package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/openshift/library-go/pkg/security/uid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

const (
	uidRangeAnnotation           = "openshift.io/sa.scc.uid-range"
	supplementalGroupsAnnotation = "openshift.io/sa.scc.supplemental-groups"
	mcsAnnotation                = "openshift.io/sa.scc.mcs"
)

// namespaceAllocator gives every namespace its UID block, supplemental groups and MCS label
// the way cluster-policy-controller's namespace SCC allocation controller does (its module
// does not resolve here): block n of the UID range, the same block for groups, and MCS label
// n*labelsPerProject of the s0 range with k categories.
type namespaceAllocator struct {
	kube           kubernetes.Interface
	blocks         *uid.Range
	categories     int
	labelsPerBlock int
	delay          time.Duration
	mu             sync.Mutex
	used           map[uint32]bool
	// Namespaces being allocated: an update meanwhile must not start a second allocation.
	inflight map[string]bool
}

func newNamespaceAllocator(kube kubernetes.Interface, uidRange string, categories, labelsPerBlock int, delay time.Duration) (*namespaceAllocator, error) {
	blocks, err := uid.ParseRange(uidRange)
	if err != nil {
		return nil, err
	}
	if categories < 1 || labelsPerBlock < 1 {
		return nil, fmt.Errorf("mcs categories and labels per project must be positive")
	}
	return &namespaceAllocator{kube: kube, blocks: blocks, categories: categories, labelsPerBlock: labelsPerBlock, delay: delay, used: map[uint32]bool{}, inflight: map[string]bool{}}, nil
}

func (a *namespaceAllocator) run(ctx context.Context) {
	factory := informers.NewSharedInformerFactory(a.kube, 0)
	informer := factory.Core().V1().Namespaces().Informer()
	queue := make(chan string, 1024)
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.observe(obj, queue) },
		UpdateFunc: func(_, obj any) { a.observe(obj, queue) },
	})
	factory.Start(ctx.Done())
	cache.WaitForCacheSync(ctx.Done(), informer.HasSynced)
	for {
		select {
		case <-ctx.Done():
			return
		case name := <-queue:
			if a.begin(name) {
				go func() {
					defer a.end(name)
					a.allocate(ctx, name)
				}()
			}
		}
	}
}

// observe records blocks already taken and queues namespaces that still need one.
func (a *namespaceAllocator) observe(obj any, queue chan<- string) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.DeletionTimestamp != nil {
		return
	}
	if value, ok := ns.Annotations[uidRangeAnnotation]; ok {
		if block, err := uid.ParseBlock(value); err == nil {
			if in, offset := a.blocks.Offset(block); in {
				a.mu.Lock()
				a.used[offset] = true
				a.mu.Unlock()
			}
		}
		return
	}
	queue <- ns.Name
}

func (a *namespaceAllocator) allocate(ctx context.Context, name string) {
	time.Sleep(a.delay)
	ns, err := a.kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil || ns.Annotations[uidRangeAnnotation] != "" || ns.DeletionTimestamp != nil {
		return
	}
	offset, block, ok := a.next()
	if !ok {
		klog.Errorf("namespace %s: the UID range %s is exhausted", name, a.blocks)
		return
	}
	label := mcsLabel(uint64(offset)*uint64(a.labelsPerBlock), a.categories)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q,%q:%q,%q:%q}}}`,
		uidRangeAnnotation, block.String(), supplementalGroupsAnnotation, block.String(), mcsAnnotation, label)
	if _, err := a.kube.CoreV1().Namespaces().Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		klog.Errorf("namespace %s: annotating: %v", name, err)
		a.release(offset)
		return
	}
	klog.Infof("namespace %s: uid-range %s, mcs %s", name, block, label)
}

func (a *namespaceAllocator) begin(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight[name] {
		return false
	}
	a.inflight[name] = true
	return true
}

func (a *namespaceAllocator) end(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.inflight, name)
}

func (a *namespaceAllocator) next() (uint32, uid.Block, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for offset := uint32(0); offset < a.blocks.Size(); offset++ {
		if a.used[offset] {
			continue
		}
		block, ok := a.blocks.BlockAt(offset)
		if ok {
			a.used[offset] = true
		}
		return offset, block, ok
	}
	return 0, uid.Block{}, false
}

func (a *namespaceAllocator) release(offset uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.used, offset)
}

// mcsLabel is label number n of the s0 range in the combinatorial number system OpenShift's
// mcs package uses: the k categories c_k > ... > c_1 with sum C(c_i, i) == n, largest first
// (n=0 with k=2 is s0:c1,c0; n=330 is s0:c26,c5).
func mcsLabel(n uint64, k int) string {
	categories := make([]int, 0, k)
	for i := k; i >= 1; i-- {
		c := i - 1
		for binomial(c+1, i) <= n {
			c++
		}
		n -= binomial(c, i)
		categories = append(categories, c)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(categories)))
	label := "s0:"
	for i, c := range categories {
		if i > 0 {
			label += ","
		}
		label += fmt.Sprintf("c%d", c)
	}
	return label
}

func binomial(n, k int) uint64 {
	if k < 0 || n < k {
		return 0
	}
	r := uint64(1)
	for i := 1; i <= k; i++ {
		r = r * uint64(n-k+i) / uint64(i)
	}
	return r
}
